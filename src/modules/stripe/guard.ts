// What stands between plangate and a slow or failing Stripe: one circuit breaker per instance for
// every Stripe call, a bulkhead bounding the interactive calls in flight, and a total time budget
// for an interactive call (the SDK's retries included). A Stripe outage then costs a customer a
// fast 503 `provider_unavailable` with Retry-After, never a hung request or a held connection.
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  circuitBreaker,
  handleWhen,
  type IBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
} from 'cockatiel'
import type { Logger } from 'pino'
import Stripe from 'stripe'
import type { Config } from '../../config.ts'
import { AppError, retryAfter } from '../../core/errors.ts'

export type BreakerState = 'closed' | 'open' | 'half_open'
/** Interactive: a person waits (budget, bulkhead). Background: a job, which may retry longer. */
export type CallMode = 'interactive' | 'background'
export type CallRefusal = 'circuit_open' | 'bulkhead_full' | 'budget_exceeded' | 'failed'

/** How a Stripe call that went out ended: answered, failed (an error or no answer), or over its budget. */
export type CallOutcome = 'ok' | 'error' | 'timeout'

/** Where calls are timed (the metrics); in-memory, no I/O. */
export interface StripeCallRecorder {
  stripeCall(operation: string, outcome: CallOutcome, seconds: number): void
}

export interface StripeGuard {
  run<T>(operation: string, mode: CallMode, call: () => Promise<T>): Promise<T>
  /**
   * Throws the 503 a call would get right now (breaker open, or no free interactive slot), so a
   * request that would be refused is answered before it does any database work.
   */
  assertAvailable(mode: CallMode): void
  readonly state: BreakerState
  /** Interactive calls in flight now. */
  readonly inFlight: number
  /** Calls refused or failed since start, by reason (for the metrics). */
  readonly refusals: ReadonlyMap<CallRefusal, number>
}

export type GuardConfig = Pick<
  Config,
  | 'STRIPE_INTERACTIVE_BUDGET_MS'
  | 'STRIPE_MAX_CONCURRENT_CALLS'
  | 'STRIPE_BREAKER_FAILURES'
  | 'STRIPE_BREAKER_WINDOW_MS'
  | 'STRIPE_BREAKER_COOLDOWN_MS'
>

/** Opens after `threshold` failures within `windowMs`; a successful probe forgets them. */
class WindowBreaker implements IBreaker {
  private failures: number[] = []
  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}
  get state(): unknown {
    return this.failures
  }
  set state(value: unknown) {
    this.failures = Array.isArray(value) ? value.filter((at): at is number => typeof at === 'number') : []
  }
  success(state: CircuitState): void {
    if (state === CircuitState.HalfOpen) this.failures = []
  }
  failure(state: CircuitState): boolean {
    if (state === CircuitState.HalfOpen) return true
    const now = Date.now()
    this.failures = this.failures.filter((at) => now - at < this.windowMs)
    this.failures.push(now)
    return this.failures.length >= this.threshold
  }
}

/**
 * Failures that say Stripe is unwell: no answer (connection error, timeout, our budget), a 5xx or
 * a 429. A 4xx about the request itself (a declined card, a missing object) means Stripe is up.
 */
export function isOutage(error: unknown): boolean {
  if (error instanceof TaskCancelledError) return true
  if (!(error instanceof Stripe.errors.StripeError)) return false
  const status = error.statusCode
  return status === undefined || status >= 500 || status === 429
}

const unavailable = (detail: string, seconds: number) =>
  retryAfter(new AppError('provider_unavailable', detail), seconds)

export function createStripeGuard(
  config: GuardConfig,
  log: Logger,
  recorder: StripeCallRecorder = { stripeCall: () => undefined },
): StripeGuard {
  const breaker = circuitBreaker(handleWhen(isOutage), {
    halfOpenAfter: config.STRIPE_BREAKER_COOLDOWN_MS,
    breaker: new WindowBreaker(config.STRIPE_BREAKER_FAILURES, config.STRIPE_BREAKER_WINDOW_MS),
  })
  let openedAt = 0
  breaker.onBreak(() => {
    openedAt = Date.now()
    log.warn({ provider: 'stripe' }, 'stripe circuit breaker opened: calls fail fast until a probe succeeds')
  })
  breaker.onHalfOpen(() => log.info({ provider: 'stripe' }, 'stripe circuit breaker half-open: probing'))
  breaker.onReset(() => log.info({ provider: 'stripe' }, 'stripe circuit breaker closed'))
  // No queue: a request beyond the limit is answered at once rather than waiting its turn.
  const slots = bulkhead(config.STRIPE_MAX_CONCURRENT_CALLS, 0)
  const budget = timeout(config.STRIPE_INTERACTIVE_BUDGET_MS, TimeoutStrategy.Aggressive)
  const refusals = new Map<CallRefusal, number>()
  const count = (reason: CallRefusal) => refusals.set(reason, (refusals.get(reason) ?? 0) + 1)
  const cooldownLeft = () =>
    Math.max(1000, config.STRIPE_BREAKER_COOLDOWN_MS - (Date.now() - openedAt)) / 1000

  const stateOf = (): BreakerState =>
    breaker.state === CircuitState.Open || breaker.state === CircuitState.Isolated
      ? 'open'
      : breaker.state === CircuitState.HalfOpen
        ? 'half_open'
        : 'closed'

  return {
    get state() {
      return stateOf()
    },
    get inFlight() {
      return config.STRIPE_MAX_CONCURRENT_CALLS - slots.executionSlots
    },
    refusals,
    assertAvailable(mode) {
      const open =
        breaker.state === CircuitState.HalfOpen ||
        (breaker.state === CircuitState.Open && Date.now() - openedAt < config.STRIPE_BREAKER_COOLDOWN_MS)
      if (open) {
        count('circuit_open')
        throw unavailable('The payment provider is unavailable; please try again shortly', cooldownLeft())
      }
      if (mode === 'interactive' && slots.executionSlots === 0) {
        count('bulkhead_full')
        throw unavailable('Too many payment requests are waiting on the provider; please retry', 2)
      }
    },
    async run(operation, mode, call) {
      // While the probe is out, the others are refused at once (cockatiel would make them wait on it).
      if (breaker.state === CircuitState.HalfOpen) {
        count('circuit_open')
        throw unavailable('The payment provider is unavailable; please try again shortly', cooldownLeft())
      }
      // Only a call that went out is timed; a refused one is counted in `refusals`.
      // Once: a call over its budget is recorded as `timeout`, not again when it ends after all.
      let began: number | undefined
      const record = (outcome: CallOutcome) => {
        if (began === undefined) return
        recorder.stripeCall(operation, outcome, (performance.now() - began) / 1000)
        began = undefined
      }
      const timed = async () => {
        began = performance.now()
        try {
          const answer = await call()
          record('ok')
          return answer
        } catch (error) {
          record('error')
          throw error
        }
      }
      try {
        return await breaker.execute(() =>
          mode === 'interactive' ? slots.execute(() => budget.execute(() => timed())) : timed(),
        )
      } catch (error) {
        if (error instanceof TaskCancelledError) record('timeout')
        if (error instanceof BrokenCircuitError) {
          count('circuit_open')
          throw unavailable('The payment provider is unavailable; please try again shortly', cooldownLeft())
        }
        if (error instanceof BulkheadRejectedError) {
          count('bulkhead_full')
          log.warn({ operation }, 'stripe bulkhead full: request refused')
          throw unavailable('Too many payment requests are waiting on the provider; please retry', 2)
        }
        if (error instanceof TaskCancelledError) {
          count('budget_exceeded')
          log.warn({ operation, budgetMs: config.STRIPE_INTERACTIVE_BUDGET_MS }, 'stripe call over budget')
          throw unavailable('The payment provider did not answer in time; please try again shortly', 5)
        }
        if (error instanceof Stripe.errors.StripeError) count('failed')
        throw error
      }
    },
  }
}
