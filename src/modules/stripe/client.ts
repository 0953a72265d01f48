// The Stripe SDK client and the one way plangate calls it: every call has a timeout and bounded
// retries (the SDK retries with the same idempotency key), goes through the guard (circuit
// breaker; for interactive calls a bulkhead and a total budget), and any Stripe failure becomes a
// 503 `provider_unavailable` with Retry-After whose text never repeats Stripe's.
import type { Logger } from 'pino'
import Stripe from 'stripe'
import type { Config } from '../../config.ts'
import { AppError, retryAfter } from '../../core/errors.ts'
import type { CallMode, StripeGuard } from './guard.ts'

// The SDK sleeps before its nth retry at most min(0.5 s × 2^(n-1), 5 s) (jitter only shortens it).
const retrySleepMs = (retry: number) => Math.min(500 * 2 ** (retry - 1), 5_000)
const minAttemptMs = 1_000

/**
 * How an interactive call's attempts fit in its budget: as many of the configured retries as leave
 * every attempt at least a second, each attempt getting an equal share of what the sleeps leave.
 * So every attempt has ended when the budget runs out: nothing keeps calling Stripe after the
 * customer has had the 503, outside the bulkhead's count.
 */
export function interactiveAttempts(config: Config): { retries: number; timeoutMs: number } {
  const budget = config.STRIPE_INTERACTIVE_BUDGET_MS
  const sleeps = (retries: number) =>
    Array.from({ length: retries }, (_, i) => retrySleepMs(i + 1)).reduce((a, b) => a + b, 0)
  let retries = config.STRIPE_MAX_NETWORK_RETRIES
  while (retries > 0 && sleeps(retries) + (retries + 1) * minAttemptMs > budget) retries--
  const share = Math.floor((budget - sleeps(retries)) / (retries + 1))
  return { retries, timeoutMs: Math.min(config.STRIPE_TIMEOUT_MS, share) }
}

/** A client for interactive calls (all attempts within the budget) or for background work. */
export function createStripeClient(config: Config, mode: CallMode = 'background'): Stripe | null {
  if (!config.STRIPE_SECRET_KEY) return null
  const api = config.STRIPE_API_URL ? new URL(config.STRIPE_API_URL) : null
  const attempts =
    mode === 'interactive'
      ? interactiveAttempts(config)
      : { retries: config.STRIPE_MAX_NETWORK_RETRIES, timeoutMs: config.STRIPE_TIMEOUT_MS }
  return new Stripe(config.STRIPE_SECRET_KEY, {
    timeout: attempts.timeoutMs,
    maxNetworkRetries: attempts.retries,
    appInfo: { name: 'plangate' },
    ...(api && {
      host: api.hostname,
      port: Number(api.port || (api.protocol === 'https:' ? 443 : 80)),
      protocol: api.protocol === 'https:' ? 'https' : 'http',
    }),
  })
}

export const isStripeError = (error: unknown): error is Stripe.errors.StripeError =>
  error instanceof Stripe.errors.StripeError

/** Runs one Stripe operation through the guard; a Stripe error is logged and answered as 503 `provider_unavailable`. */
export async function callStripe<T>(
  log: Logger,
  guard: StripeGuard,
  mode: CallMode,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await guard.run(operation, mode, call)
  } catch (error) {
    if (!isStripeError(error)) throw error
    log.warn(
      {
        operation,
        stripe: { type: error.type, code: error.code, status: error.statusCode, requestId: error.requestId },
        err: error,
      },
      'stripe call failed',
    )
    throw retryAfter(
      new AppError('provider_unavailable', 'The payment provider did not answer; please try again shortly'),
      5,
    )
  }
}

/** A Stripe id field that may be expanded into its object. */
export const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value == null ? null : typeof value === 'string' ? value : value.id

export const fromUnix = (seconds: number | null | undefined): Date | null =>
  seconds == null ? null : new Date(seconds * 1000)
