import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { digestsEqual, sha256 } from '../../core/crypto.ts'
import { AppError } from '../../core/errors.ts'
import { problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import type { Metrics } from './metrics.ts'
import { Health, MetricsText, Ready, type WebhookDetails } from './schemas.ts'

/** How many endpoint breakers are not closed; ids stay out of this public answer. */
function webhookBreakers(deps: Deps): WebhookDetails {
  const states = deps.webhooks.breakerStates()
  return {
    open: states.filter((breaker) => breaker.state === 'open').length,
    half_open: states.filter((breaker) => breaker.state === 'half_open').length,
  }
}

export const opsRoutes =
  (deps: Deps, metrics: Metrics): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health',
      {
        schema: {
          tags: ['ops'],
          summary: 'Liveness',
          description: 'Answers while the process is up; touches nothing else.',
          operationId: 'health',
          response: { 200: Health },
        },
        config: { rateLimit: false },
      },
      async () => ({ status: 'ok' as const }),
    )

    app.get(
      '/ready',
      {
        schema: {
          tags: ['ops'],
          summary: 'Readiness',
          description:
            'Checks the database; 503 when it does not answer. Also reports Redis (when configured: the shared rate-limit store) and the circuit breakers of the providers this process calls (Stripe when configured, outgoing webhook endpoints), which never make the instance unready: the API keeps serving everything that does not need them, and without Redis it serves requests without rate limits.',
          operationId: 'ready',
          response: { 200: Ready, 503: Ready },
        },
        config: { rateLimit: false },
      },
      async (req, reply) => {
        const guard = deps.billing.stripe?.guard
        const providers = {
          ...(deps.redis && { redis: deps.redis.health() }),
          ...(guard && { stripe: { breaker: guard.state, in_flight: guard.inFlight } }),
          webhooks: webhookBreakers(deps),
        }
        try {
          await deps.database.ping()
          return { status: 'ok' as const, database: 'ok' as const, ...providers }
        } catch (error) {
          req.log.warn({ err: error }, 'readiness: database unavailable')
          return reply.code(503).send({ status: 'unavailable', database: 'unavailable', ...providers })
        }
      },
    )

    // /metrics shows traffic by route and process internals: only a scraper holding METRICS_TOKEN
    // reads it. The token is compared as SHA-256 digests in constant time.
    const metricsDigest = deps.config.METRICS_TOKEN ? sha256(deps.config.METRICS_TOKEN) : undefined
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['ops'],
          summary: 'Prometheus metrics',
          description:
            'Process metrics and HTTP latency histograms in the Prometheus text format, for a scraper sending `Authorization: Bearer <METRICS_TOKEN>`. 401 without it or with another token; 404 when METRICS_TOKEN is not set (metrics are off).',
          operationId: 'metrics',
          security: [{ metricsToken: [] }],
          produces: ['text/plain'],
          response: {
            200: MetricsText,
            401: problems[401],
            404: problems[404],
          },
        },
        config: { rateLimit: false },
      },
      async (req, reply) => {
        if (!metricsDigest) throw new AppError('not_found', 'Metrics are disabled: METRICS_TOKEN is not set')
        const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
        if (!token || !digestsEqual(sha256(token), metricsDigest)) {
          reply.header('www-authenticate', 'Bearer realm="metrics"')
          throw new AppError('unauthorized', 'Send the METRICS_TOKEN as a bearer token')
        }
        reply.type(metrics.registry.contentType)
        return metrics.registry.metrics()
      },
    )

    app.get(
      '/openapi.json',
      {
        schema: { hide: true },
        config: { rateLimit: false },
      },
      async () => app.swagger(),
    )
  }
