import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { StripeGuard } from '../billing/stripe/guard.ts'

export interface Metrics {
  registry: Registry
  observe(method: string, route: string, status: number, seconds: number): void
  /** Exposes the Stripe guard: breaker state, interactive calls in flight, refused and failed calls. */
  trackStripe(guard: StripeGuard): void
}

const breakerStates = { closed: 0, open: 1, half_open: 2 } as const

/** A registry per app instance (tests build many apps in one process). */
export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  return {
    registry,
    observe(method, route, status, seconds) {
      latency.observe({ method, route, status_code: String(status) }, seconds)
    },
    trackStripe(guard) {
      new Gauge({
        name: 'stripe_circuit_breaker_state',
        help: 'The Stripe circuit breaker of this instance: 0 closed, 1 open (calls fail fast), 2 half-open (probing)',
        registers: [registry],
        collect() {
          this.set(breakerStates[guard.state])
        },
      })
      new Gauge({
        name: 'stripe_calls_in_flight',
        help: 'Interactive Stripe calls in flight on this instance (bounded by STRIPE_MAX_CONCURRENT_CALLS)',
        registers: [registry],
        collect() {
          this.set(guard.inFlight)
        },
      })
      new Counter({
        name: 'stripe_call_failures_total',
        help: 'Stripe calls refused or failed, by reason: circuit_open, bulkhead_full, budget_exceeded, failed',
        labelNames: ['reason'],
        registers: [registry],
        collect() {
          this.reset()
          for (const [reason, count] of guard.refusals) this.inc({ reason }, count)
        },
      })
    },
  }
}
