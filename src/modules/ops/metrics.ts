import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Database } from '../../core/db.ts'
import type { SharedRedis } from '../../core/redis.ts'
import type { LimitDecisions } from '../entitlements/engine.ts'
import type { JobQueue, JobRecorder } from '../jobs/queue.ts'
import type { StripeCallRecorder, StripeGuard } from '../stripe/guard.ts'
import type { DeliveryRecorder } from '../webhooks/jobs.ts'
import type { WebhookSender } from '../webhooks/sender.ts'

/**
 * The service's metrics: recorded in memory by the code that knows the outcome (through the
 * recorder interfaces it declares), or read at scrape time. One registry per set of dependencies.
 */
export interface Metrics extends LimitDecisions, JobRecorder, DeliveryRecorder, StripeCallRecorder {
  registry: Registry
  observe(method: string, route: string, status: number, seconds: number): void
  /** A request answered 503 `service_busy` (no pooled connection in time). */
  countBusy(): void
  /** Exposes the Stripe guard: breaker state, interactive calls in flight, refused and failed calls. */
  trackStripe(guard: StripeGuard): void
  /** Exposes the rate-limit store's failed Redis calls (each one a request served without a limit). */
  trackRedis(redis: Pick<SharedRedis, 'failures'>): void
  /** Exposes the job queues' depth by state, read at scrape time (bounded; absent when it fails). */
  trackJobs(queue: Pick<JobQueue<never>, 'depth'>): void
}

/** How long a scrape waits for the job queues' depth before leaving that gauge out. */
export const queueDepthTimeoutMs = 1000

/** Buckets for work that takes from milliseconds to tens of seconds (jobs, Stripe calls). */
const callBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** Every metric family the service can expose (some only with Stripe, Redis or PostgreSQL configured). */
export const metricFamilies = [
  'http_request_duration_seconds',
  'plangate_service_busy_total',
  'plangate_db_pool_connections',
  'plangate_db_pool_waiting',
  'plangate_webhook_breaker_state',
  'plangate_limit_decisions_total',
  'plangate_jobs_failed_total',
  'plangate_job_duration_seconds',
  'plangate_jobs_queue_depth',
  'plangate_webhook_deliveries_total',
  'plangate_webhook_delivery_lag_seconds',
  'plangate_stripe_call_duration_seconds',
  'plangate_stripe_breaker_state',
  'plangate_stripe_calls_in_flight',
  'plangate_stripe_call_failures_total',
  'plangate_rate_limit_store_errors_total',
] as const

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
  const limitDecisions = new Counter({
    name: 'plangate_limit_decisions_total',
    help: 'Plan limit decisions by feature (a plan limit key) and outcome: admitted, or refused (no room under the limit, or no subscription with access); every limited create (staff, bookings, recorded usage) and every check of a limit',
    labelNames: ['feature', 'outcome'],
    registers: [registry],
  })
  const jobsFailed = new Counter({
    name: 'plangate_jobs_failed_total',
    help: 'Job runs whose handler failed, by queue (each failed attempt; pg-boss retries until the retry limit)',
    labelNames: ['queue'],
    registers: [registry],
  })
  const jobDuration = new Histogram({
    name: 'plangate_job_duration_seconds',
    help: 'How long a job handler ran, by queue and outcome (completed, failed)',
    labelNames: ['queue', 'outcome'],
    buckets: callBuckets,
    registers: [registry],
  })
  const deliveries = new Counter({
    name: 'plangate_webhook_deliveries_total',
    help: 'Outgoing webhook delivery attempts by outcome: delivered, failed (to be retried), gave_up (the last attempt failed, or the endpoint was deleted)',
    labelNames: ['outcome'],
    registers: [registry],
  })
  const deliveryLag = new Histogram({
    name: 'plangate_webhook_delivery_lag_seconds',
    help: "Time from an event's creation to its successful delivery to an endpoint (retries included)",
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 21600, 86400],
    registers: [registry],
  })
  const stripeCalls = new Histogram({
    name: 'plangate_stripe_call_duration_seconds',
    help: "Stripe calls that went out, by operation and outcome (ok, error, timeout: over the interactive budget); the SDK's retries included",
    labelNames: ['operation', 'outcome'],
    buckets: callBuckets,
    registers: [registry],
  })
  return {
    registry,
    limitDecision: (feature, outcome) => limitDecisions.inc({ feature, outcome }),
    jobRan(queue, outcome, seconds) {
      jobDuration.observe({ queue, outcome }, seconds)
      if (outcome === 'failed') jobsFailed.inc({ queue })
    },
    webhookDelivery(outcome, lagSeconds) {
      deliveries.inc({ outcome })
      if (lagSeconds !== undefined) deliveryLag.observe(lagSeconds)
    },
    stripeCall: (operation, outcome, seconds) => stripeCalls.observe({ operation, outcome }, seconds),
    trackJobs(queue) {
      new Gauge({
        name: 'plangate_jobs_queue_depth',
        help: 'Jobs by queue and state (created and retry: waiting; active: running; failed: kept a week), read at scrape time; absent when the database did not answer within a second',
        labelNames: ['queue', 'state'],
        registers: [registry],
        async collect() {
          this.reset()
          let timer: NodeJS.Timeout | undefined
          const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('queue depth timed out')), queueDepthTimeoutMs)
          })
          try {
            const depths = await Promise.race([queue.depth(queueDepthTimeoutMs), late])
            for (const { queue: name, state, jobs } of depths) this.set({ queue: name, state }, jobs)
          } catch {
            // A slow or unreachable database must not fail the scrape: the gauge is left out.
          } finally {
            clearTimeout(timer)
          }
        },
      })
    },
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
