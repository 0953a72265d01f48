import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import type { Metrics } from './metrics.ts'

const Health = z.object({ status: z.literal('ok') })
const Ready = z.object({ status: z.enum(['ok', 'unavailable']), database: z.enum(['ok', 'unavailable']) })

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
          description: 'Checks the database; 503 when it does not answer.',
          operationId: 'ready',
          response: { 200: Ready, 503: Ready },
        },
        config: { rateLimit: false },
      },
      async (req, reply) => {
        try {
          await deps.database.ping()
          return { status: 'ok' as const, database: 'ok' as const }
        } catch (error) {
          req.log.warn({ err: error }, 'readiness: database unavailable')
          return reply.code(503).send({ status: 'unavailable', database: 'unavailable' })
        }
      },
    )

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['ops'],
          summary: 'Prometheus metrics',
          description: 'Process metrics and HTTP latency histograms in the Prometheus text format.',
          operationId: 'metrics',
          response: { 200: z.string(), 429: problems[429] },
        },
        config: { rateLimit: false },
      },
      async (_req, reply) => {
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
