import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Database } from '../../core/db.ts'
import type { SharedRedis } from '../../core/redis.ts'
import type { StripeGuard } from '../stripe/guard.ts'
import type { WebhookSender } from '../webhooks/sender.ts'

export interface Metrics {
  registry: Registry
  observe(method: string, route: string, status: number, seconds: number): void
  /** A request answered 503 `service_busy` (no pooled connection in time). */
  countBusy(): void
  /** Exposes the Stripe guard: breaker state, interactive calls in flight, refused and failed calls. */
  trackStripe(guard: StripeGuard): void
  /** Exposes the rate-limit store's failed Redis calls (each one a request served without a limit). */
  trackRedis(redis: Pick<SharedRedis, 'failures'>): void
}

/** What the metrics read at scrape time. */
export interface MetricSources {
  database: Pick<Database, 'poolStats'>
  webhooks: Pick<WebhookSender, 'breakerStates'>
}

/** One encoding for every circuit breaker gauge, ordered by severity. */
const breakerStateValues = { closed: 0, half_open: 1, open: 2 } as const

/** A registry per app instance (tests build many apps in one process). */
export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const busy = new Counter({
    name: 'plangate_service_busy_total',
    help: 'Requests answered 503 service_busy: no pooled database connection became free within DATABASE_ACQUIRE_TIMEOUT_MS',
    registers: [registry],
  })
  new Gauge({
    name: 'plangate_db_pool_connections',
    help: 'PostgreSQL pool connections by state (busy, idle) and the pool size (max); absent on PGlite',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset()
      const stats = sources.database.poolStats()
      if (!stats) return
      this.set({ state: 'busy' }, stats.total - stats.idle)
      this.set({ state: 'idle' }, stats.idle)
      this.set({ state: 'max' }, stats.max)
    },
  })
  new Gauge({
    name: 'plangate_db_pool_waiting',
    help: 'Callers queued for a PostgreSQL pool connection right now; absent on PGlite',
    registers: [registry],
    collect() {
      this.reset()
      const stats = sources.database.poolStats()
      if (stats) this.set(stats.waiting)
    },
  })
  new Gauge({
    name: 'plangate_webhook_breaker_state',
    help: 'Circuit breaker of each outgoing webhook endpoint this process has called: 0 closed, 1 half-open, 2 open',
    labelNames: ['endpoint_id'],
    registers: [registry],
    collect() {
      this.reset()
      for (const { endpointId, state } of sources.webhooks.breakerStates()) {
        this.set({ endpoint_id: endpointId }, breakerStateValues[state])
      }
    },
  })
  return {
    registry,
    observe(method, route, status, seconds) {
      latency.observe({ method, route, status_code: String(status) }, seconds)
    },
    countBusy: () => busy.inc(),
    trackStripe(guard) {
      new Gauge({
        name: 'plangate_stripe_breaker_state',
        help: 'The Stripe circuit breaker of this instance: 0 closed, 1 half-open (probing), 2 open (calls fail fast)',
        registers: [registry],
        collect() {
          this.set(breakerStateValues[guard.state])
        },
      })
      new Gauge({
        name: 'plangate_stripe_calls_in_flight',
        help: 'Interactive Stripe calls in flight on this instance (bounded by STRIPE_MAX_CONCURRENT_CALLS)',
        registers: [registry],
        collect() {
          this.set(guard.inFlight)
        },
      })
      new Counter({
        name: 'plangate_stripe_call_failures_total',
        help: 'Stripe calls refused or failed, by reason: circuit_open, bulkhead_full, budget_exceeded, failed',
        labelNames: ['reason'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [reason, count] of guard.refusals) this.inc({ reason }, count)
        },
      })
    },
    trackRedis(redis) {
      new Counter({
        name: 'plangate_rate_limit_store_errors_total',
        help: 'Rate-limit counts Redis could not take (down, or slower than its command timeout): each request was served without that limit',
        registers: [registry],
        collect() {
          this.reset()
          this.inc(redis.failures)
        },
      })
    },
  }
}
