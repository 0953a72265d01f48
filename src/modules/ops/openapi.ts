// The OpenAPI document: generated from the route schemas (zod → JSON Schema), then finished in one
// place so every operation reads the same way: its security stated, examples on the media types,
// no body on 204, and only the component schemas something refers to.
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import type { Config } from '../../config.ts'

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const tags = [
  { name: 'ops', description: 'Liveness, readiness, metrics and this document.' },
  { name: 'auth', description: 'Registration, tokens, sign-in flows and signing keys.' },
  { name: 'me', description: 'The signed-in user.' },
  { name: 'accounts', description: 'Tenant accounts, their members and invitations.' },
  { name: 'plans', description: 'Plans with prices, limits and features.' },
  { name: 'subscription', description: "An account's subscription and its lifecycle." },
  { name: 'billing', description: 'Invoices, the billing portal and the Stripe webhook.' },
  { name: 'entitlements', description: 'What the plan allows, and metered usage.' },
  { name: 'staff', description: 'Reference domain: staff members, limited by the plan.' },
  { name: 'bookings', description: 'Reference domain: bookings, limited per day by the plan.' },
  { name: 'webhooks', description: 'Outgoing webhook endpoints and their deliveries.' },
  { name: 'admin', description: "Site admins' reads and actions across every account." },
]

/** Options for @fastify/swagger: the document's header, and the two transforms that build it. */
export function openapiOptions(config: Config): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'plangate',
        version: '0.1.0',
        description:
          'Accounts, plans with limits, subscriptions and entitlements. Errors are RFC 9457 `application/problem+json` with a stable `code`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: config.APP_URL, description: 'This instance (APP_URL).' }],
      tags,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token from `POST /v1/auth/token`, or an API key.',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The `METRICS_TOKEN` of this instance (for Prometheus).',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => {
      const document = jsonSchemaTransformObject(input)
      finishDocument(document)
      return document
    },
  }
}

/**
 * Mutates a generated document:
 * - an operation that declares no `security` is public and says so with `security: []` (routes
 *   behind a guard declare the bearer requirement next to their guard);
 * - a 204 or a redirect has no body, and a request body that may be null is optional;
 * - the request body and each 2xx media type carry the example of their schema (a `.meta({ example })`
 *   on the zod schema, inline or behind a `$ref`) as the media type's `example`;
 * - component schemas nothing refers to (the zod provider emits an input and an output variant of
 *   every named schema) are dropped.
 */
const acceptsNull = (content: unknown): boolean =>
  isObject(content) &&
  Object.values(content).some(
    (media) =>
      isObject(media) &&
      isObject(media.schema) &&
      Array.isArray(media.schema.anyOf) &&
      media.schema.anyOf.some((option) => isObject(option) && option.type === 'null'),
  )

export function finishDocument(document: object): void {
  const root = document as Json
  const schemas =
    isObject(root.components) && isObject(root.components.schemas) ? root.components.schemas : {}
  const resolve = (schema: unknown): Json | undefined => {
    if (!isObject(schema)) return undefined
    const ref = typeof schema.$ref === 'string' ? schema.$ref : undefined
    if (!ref) return schema
    const target = schemas[ref.replace('#/components/schemas/', '')]
    return isObject(target) ? target : undefined
  }
  const withExample = (content: unknown) => {
    if (!isObject(content)) return
    for (const media of Object.values(content)) {
      if (!isObject(media) || 'example' in media || 'examples' in media) continue
      const schema = resolve(media.schema)
      if (schema && 'example' in schema) {
        media.example = schema.example
        // An inline schema's example now lives on its media type; a shared component keeps its own.
        if (schema === media.schema) delete schema.example
      }
    }
  }

  const paths = isObject(root.paths) ? root.paths : {}
  for (const methods of Object.values(paths)) {
    if (!isObject(methods)) continue
    for (const operation of Object.values(methods)) {
      if (!isObject(operation)) continue
      operation.security ??= []
      if (isObject(operation.requestBody)) {
        withExample(operation.requestBody.content)
        // A body schema that admits null (refresh, logout, cancel) means the body may be left out.
        if (acceptsNull(operation.requestBody.content)) operation.requestBody.required = false
      }
      const responses = isObject(operation.responses) ? operation.responses : {}
      for (const [status, response] of Object.entries(responses)) {
        if (!isObject(response)) continue
        if (status === '204' || status.startsWith('3')) delete response.content
        else if (status.startsWith('2')) withExample(response.content)
      }
    }
  }

  // Keep the schemas reachable from the paths (following references between components).
  const used = new Set<string>()
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item)
      return
    }
    if (!isObject(value)) return
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith('#/components/schemas/')) {
        const name = child.slice('#/components/schemas/'.length)
        if (!used.has(name)) {
          used.add(name)
          visit(schemas[name])
        }
      } else {
        visit(child)
      }
    }
  }
  visit(root.paths)
  // Listed by name: the order the schemas were registered in is the order modules were loaded,
  // which moves whenever an import does (and with it the generated SDK types).
  const kept = Object.keys(schemas)
    .filter((name) => used.has(name))
    .sort()
    .map((name) => [name, schemas[name]] as const)
  for (const name of Object.keys(schemas)) delete schemas[name]
  for (const [name, schema] of kept) schemas[name] = schema
}
