// The Stripe SDK client and the one way plangate calls it: every call has a timeout and bounded
// retries (the SDK retries with the same idempotency key), goes through the guard (circuit
// breaker; for interactive calls a bulkhead and a total budget), and any Stripe failure becomes a
// 503 `provider_unavailable` with Retry-After whose text never repeats Stripe's.
import type { Logger } from 'pino'
import Stripe from 'stripe'
import type { Config } from '../../../config.ts'
import { AppError, retryAfter } from '../../../core/errors.ts'
import type { CallMode, StripeGuard } from './guard.ts'

/** A client for interactive calls (each attempt within the budget) or for background work. */
export function createStripeClient(config: Config, mode: CallMode = 'background'): Stripe | null {
  if (!config.STRIPE_SECRET_KEY) return null
  const api = config.STRIPE_API_URL ? new URL(config.STRIPE_API_URL) : null
  return new Stripe(config.STRIPE_SECRET_KEY, {
    timeout:
      mode === 'interactive'
        ? Math.min(config.STRIPE_TIMEOUT_MS, config.STRIPE_INTERACTIVE_BUDGET_MS)
        : config.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
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
