// buildApp(deps): the Fastify instance with its plugins, error handling and the explicit list of
// route modules. server.ts gives it real dependencies; tests give it theirs.
import { randomUUID } from 'node:crypto'
import { parse as parseQueryString } from 'node:querystring'
import type { Duplex } from 'node:stream'
import cookie from '@fastify/cookie'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import { AppError, type FieldError, fromDatabaseError, problemFor, retryAfterFor } from './core/errors.ts'
import { sharedRateLimitStore } from './core/rate-limit-store.ts'
import type { Deps } from './deps.ts'
import { accountRoutes } from './modules/accounts/routes.ts'
import { adminRoutes } from './modules/admin/routes.ts'
import { flowRoutes } from './modules/auth/flow-routes.ts'
import { bearerOf, requireAdmin, tokenUserId } from './modules/auth/guards.ts'
import { oauthRoutes } from './modules/auth/oauth-routes.ts'
import { installAuthRateLimits } from './modules/auth/rate-limits.ts'
import { authRoutes } from './modules/auth/routes.ts'
import { billingRoutes } from './modules/billing/routes.ts'
import { bookingRoutes } from './modules/bookings/routes.ts'
import { entitlementRoutes } from './modules/entitlements/routes.ts'
import { invitationRoutes } from './modules/invitations/routes.ts'
import { jobRoutes } from './modules/jobs/routes.ts'
import { keyIdLookup } from './modules/keys/credential.ts'
import { isKeySecret, keyHash } from './modules/keys/keys.ts'
import { keyRoutes } from './modules/keys/routes.ts'
import { mailRoutes } from './modules/mail/routes.ts'
import { openapiOptions } from './modules/ops/openapi.ts'
import { opsRoutes } from './modules/ops/routes.ts'
import { planRoutes } from './modules/plans/routes.ts'
import { staffRoutes } from './modules/staff/routes.ts'
import { stripeEventRoutes } from './modules/stripe/routes.ts'
import { subscriptionRoutes } from './modules/subscriptions/routes.ts'
import { webRoutes } from './modules/web/routes.ts'
import { webhookRoutes } from './modules/webhooks/routes.ts'

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/

const json = 'application/json'
const form = 'application/x-www-form-urlencoded'

/** What a browser on an allowed origin may send, and read back, across origins. */
const corsMethods = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE']
const corsRequestHeaders = ['authorization', 'content-type', 'idempotency-key', 'x-request-id']
const corsExposedHeaders = [
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'retry-after',
  'idempotent-replayed',
  'location',
  'x-request-id',
]

/**
 * The body types a route accepts: JSON, unless its schema lists others in `consumes` (the token
 * endpoint also takes an OAuth2 form). The same list is the route's request media types in OpenAPI.
 */
function acceptedTypes(req: FastifyRequest): string[] {
  const consumes = (req.routeOptions.schema as { consumes?: unknown } | undefined)?.consumes
  return Array.isArray(consumes) && consumes.every((type) => typeof type === 'string') ? consumes : [json]
}

function unsupportedMediaType(req: FastifyRequest): AppError {
  const types = acceptedTypes(req)
  return new AppError(
    'unsupported_media_type',
    types.length === 1
      ? `This endpoint accepts ${types[0]} only: send the body as JSON with Content-Type: ${types[0]}`
      : `This endpoint accepts ${types.join(' or ')}: send the body with one of these Content-Types`,
  )
}

/** A request that carries credentials gets an answer no cache may keep (PRODUCT.md §6). */
const carriesCredentials = (req: FastifyRequest) =>
  req.headers.authorization !== undefined || req.headers.cookie !== undefined

export type App = Awaited<ReturnType<typeof buildApp>>

export async function buildApp(deps: Deps) {
  const { config } = deps
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    trustProxy: config.trustProxy,
    bodyLimit: config.BODY_LIMIT_BYTES,
    // A caller's X-Request-Id is kept when it looks sane, so logs join up across services.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      return typeof incoming === 'string' && requestIdPattern.test(incoming) ? incoming : randomUUID()
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // The router's own errors (malformed percent-encoding, a path parameter over maxParamLength) are
    // raised before any route or error handler; without this they get Fastify's bare JSON.
    frameworkErrors: onRouterError,
    // Requests Node's HTTP parser rejects (a control byte in a header, an unknown method) never
    // reach Fastify's handlers; without this they get Fastify's own JSON instead of a problem.
    clientErrorHandler: onClientError,
  }).withTypeProvider<ZodTypeProvider>()

  // Fastify parses text/plain by default; the API speaks JSON (and forms on the token endpoint), so
  // any other type answers 415 instead of reaching validation as a string.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id)
  })

  // Forms are parsed only for a route that lists them in `consumes`; elsewhere a form is a 415 like
  // any other type, so a cross-site HTML form cannot reach a JSON route.
  app.addContentTypeParser(
    form,
    { parseAs: 'string', bodyLimit: config.BODY_LIMIT_BYTES },
    (req, body, done) => {
      if (!acceptedTypes(req).includes(form)) return done(unsupportedMediaType(req), undefined)
      done(null, { ...parseQueryString(String(body)) })
    },
  )
  app.addHook('onSend', async (req, reply, payload) => {
    // A route that declared its own caching (the public JWKS) keeps it.
    if (carriesCredentials(req) && !reply.hasHeader('cache-control'))
      reply.header('cache-control', 'no-store')
    return payload
  })

  const { metrics } = deps
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const { status, body } = toProblem(error, req)
    if (status >= 500 && body.code === 'internal_error') req.log.error({ err: error }, 'unhandled error')
    else if (status >= 500) req.log.warn({ err: error }, body.detail)
    // Overload is counted apart from outages: it calls for more capacity, not for a restart.
    if (body.code === 'service_busy') metrics.countBusy()
    const retryAfter = (error instanceof AppError ? error.retryAfter : undefined) ?? retryAfterFor(body.code)
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    return reply.code(status).type('application/problem+json').send(body)
  })
  await app.register(helmet, { global: true })
  // Only the listed origins get CORS headers, on preflights and real responses alike; any other
  // origin (or none) gets none at all, and its preflight is a 404.
  const corsOrigins = new Set(config.CORS_ORIGINS)
  await app.register(cors, {
    origin: (origin, callback) => {
      if (corsOrigins.has('*')) callback(null, '*')
      else callback(null, origin !== undefined && corsOrigins.has(origin) ? origin : false)
    },
    credentials: true,
    methods: corsMethods,
    allowedHeaders: corsRequestHeaders,
    exposedHeaders: corsExposedHeaders,
    maxAge: 600,
  })
  await app.register(cookie)
  const keyIds = keyIdLookup(deps.db)
  await app.register(rateLimit, {
    // Every limit (this one, each route's own, every createRateLimit) counts in this store or a
    // child of it: in Redis, shared by all instances, when REDIS_URL is set; else in memory.
    ...(deps.redis && { store: sharedRateLimitStore(deps.redis) }),
    // Fail open: a request whose count Redis could not take is served (see docs/decisions.md).
    skipOnError: true,
    global: config.RATE_LIMIT_PER_MINUTE > 0,
    max: Math.max(config.RATE_LIMIT_PER_MINUTE, 1),
    timeWindow: 60_000,
    enableDraftSpec: true,
    // Per user when the token is valid, per API key when the key exists, else per client IP
    // (TRUST_PROXY decides what req.ip is).
    keyGenerator: async (req) => {
      const bearer = bearerOf(req)
      if (bearer && isKeySecret(bearer)) {
        const keyId = await keyIds(keyHash(bearer), Date.now()).catch(() => null)
        return keyId ? `key:${keyId}` : `ip:${req.ip}`
      }
      const userId = await tokenUserId(deps, req)
      return userId ? `user:${userId}` : `ip:${req.ip}`
    },
    errorResponseBuilder: (_req, context) =>
      new AppError('rate_limited', `Rate limit exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`),
  })
  // Auth routes replace the limit above with their own per-credential one and share a per-IP ceiling.
  installAuthRateLimits(app, deps)

  // Unknown routes answer problem+json too, behind the rate limiter so they cannot be probed for free.
  app.setNotFoundHandler(
    { preHandler: config.RATE_LIMIT_PER_MINUTE > 0 ? app.rateLimit() : undefined },
    (req, reply) =>
      reply
        .code(404)
        .type('application/problem+json')
        .send(problemFor('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`)),
  )

  await app.register(swagger, openapiOptions(config))
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

  app.addHook('onResponse', async (req, reply) => {
    metrics.observe(
      req.method,
      req.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
  })

  await app.register(opsRoutes(deps, metrics))
  await app.register(authRoutes(deps))
  await app.register(oauthRoutes(deps))
  await app.register(flowRoutes(deps))
  await app.register(accountRoutes(deps))
  await app.register(invitationRoutes(deps))
  await app.register(keyRoutes(deps))
  await app.register(planRoutes(deps))
  await app.register(subscriptionRoutes(deps))
  await app.register(billingRoutes(deps))
  await app.register(stripeEventRoutes(deps, deps.billing.stripe))
  await app.register(entitlementRoutes(deps))
  await app.register(staffRoutes(deps))
  await app.register(bookingRoutes(deps))
  await app.register(jobRoutes(deps, requireAdmin(deps)))
  await app.register(mailRoutes(deps))
  await app.register(webhookRoutes(deps))
  await app.register(adminRoutes(deps))
  await app.register(webRoutes())

  return app
}

function onRouterError(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const known = error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH'
  const body = known
    ? problemFor('validation_failed', 'The request path is malformed or too long')
    : problemFor('internal_error', 'An unexpected error occurred')
  reply.code(body.status).type('application/problem+json').send(body)
}

function onClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify(
    problemFor(
      'validation_failed',
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'The request headers are too large'
        : 'The request is not valid HTTP (method, header or framing)',
    ),
  )
  socket.end(
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
}

/** Every error, whatever its origin, becomes a problem with a stable code. */
function toProblem(
  error: FastifyError,
  req: FastifyRequest,
): { status: number; body: ReturnType<typeof problemFor> } {
  if (error instanceof AppError) {
    return { status: error.status, body: problemFor(error.code, error.detail, error.extra) }
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors: FieldError[] = error.validation.map((issue) => ({
      location: locationOf(error.validationContext, issue.instancePath),
      message: issue.message ?? 'invalid value',
    }))
    return {
      status: 400,
      body: problemFor('validation_failed', `Invalid request ${error.validationContext ?? 'input'}`, {
        errors,
      }),
    }
  }
  if (isResponseSerializationError(error)) {
    return {
      status: 500,
      body: problemFor('internal_error', 'The server could not produce a valid response'),
    }
  }
  const database = fromDatabaseError(error)
  if (database)
    return { status: database.status, body: problemFor(database.code, database.detail, database.extra) }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: problemFor('payload_too_large', 'The request body is too large') }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const problem = unsupportedMediaType(req)
      return { status: 415, body: problemFor(problem.code, problem.detail) }
    }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: problemFor('validation_failed', 'The JSON body is empty') }
  }
  const status = error.statusCode ?? 500
  if (status === 400 || error instanceof SyntaxError) {
    return {
      status: 400,
      body: problemFor('validation_failed', 'The request body is not valid JSON or form data'),
    }
  }
  if (status === 401) return { status, body: problemFor('unauthorized') }
  if (status === 403) return { status, body: problemFor('forbidden') }
  if (status === 404) return { status, body: problemFor('not_found') }
  if (status === 413) return { status, body: problemFor('payload_too_large') }
  if (status === 415) return { status, body: problemFor('unsupported_media_type') }
  if (status === 429) return { status, body: problemFor('rate_limited') }
  if (status > 400 && status < 500)
    return { status: 400, body: problemFor('validation_failed', error.message) }
  return { status: 500, body: problemFor('internal_error', 'An unexpected error occurred') }
}

function locationOf(context: string | undefined, instancePath: string): string {
  const prefix =
    { querystring: 'query', headers: 'header', params: 'path', body: 'body' }[context ?? 'body'] ?? 'body'
  const path = instancePath.replace(/^\//, '').replace(/\//g, '.')
  return path ? `${prefix}.${path}` : prefix
}
