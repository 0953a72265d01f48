import { z } from 'zod'

export const Health = z.object({ status: z.literal('ok') }).meta({ example: { status: 'ok' } })
export type Health = z.infer<typeof Health>

export const StripeDetails = z
  .object({
    breaker: z
      .enum(['closed', 'open', 'half_open'])
      .describe(
        'The Stripe circuit breaker: open means Stripe calls are answered 503 at once until a probe succeeds.',
      ),
    in_flight: z.number().int().describe('Interactive Stripe calls in flight on this instance.'),
  })
  .describe(
    'Present when Stripe is configured. Informational: an open breaker does not make the instance unready.',
  )
export type StripeDetails = z.infer<typeof StripeDetails>

export const WebhookDetails = z
  .object({
    open: z.number().int().describe('Endpoints whose breaker is open: their deliveries wait for a probe.'),
    half_open: z.number().int().describe('Endpoints being probed after their cool-down.'),
  })
  .describe(
    "The outgoing webhook endpoints' circuit breakers in this process (closed ones are not counted). Informational, like `stripe`.",
  )
export type WebhookDetails = z.infer<typeof WebhookDetails>

export const RedisDetails = z
  .enum(['ok', 'degraded'])
  .describe(
    'Present when REDIS_URL is set: the store the rate limits of every instance share. `degraded` while Redis is unreachable or too slow: requests are then served without rate limits, and the instance stays ready.',
  )
export type RedisDetails = z.infer<typeof RedisDetails>

export const Ready = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    database: z.enum(['ok', 'unavailable']),
    redis: RedisDetails.optional(),
    stripe: StripeDetails.optional(),
    webhooks: WebhookDetails,
  })
  .meta({
    example: {
      status: 'ok',
      database: 'ok',
      redis: 'ok',
      stripe: { breaker: 'closed', in_flight: 0 },
      webhooks: { open: 0, half_open: 0 },
    },
  })
export type Ready = z.infer<typeof Ready>

/** The body of `/metrics`: the Prometheus text format. */
export const MetricsText = z.string().meta({
  example:
    '# HELP http_request_duration_seconds HTTP request latency by method, route template and status code\n# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_count{method="GET",route="/v1/plans",status_code="200"} 3\n',
})
