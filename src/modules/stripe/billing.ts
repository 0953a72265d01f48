// Chooses the payment providers from the configuration: `stripe` when its keys are set (then new
// subscriptions use it), `manual` always (existing manual subscriptions keep it). Built here, above
// both implementations, so billing's provider interface knows neither.
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import { AppError } from '../../core/errors.ts'
import { manualProvider } from '../billing/manual.ts'
import type { BillingProvider, Providers } from '../billing/provider.ts'
import { createStripeClient } from './client.ts'
import { createStripeGuard, type StripeCallRecorder } from './guard.ts'
import { createStripeProvider, type StripeProvider } from './provider.ts'

/** Both providers, for the composition root and the drivers that need Stripe itself (jobs, metrics). */
export interface Billing extends Providers {
  manual: BillingProvider
  stripe: StripeProvider | null
}

export function createBilling(deps: { config: Config; log: Logger; calls?: StripeCallRecorder }): Billing {
  const interactive = createStripeClient(deps.config, 'interactive')
  const background = createStripeClient(deps.config, 'background')
  // One guard per instance: every Stripe call of this process shares its breaker.
  const stripe =
    interactive && background
      ? createStripeProvider(
          { interactive, background },
          deps,
          createStripeGuard(deps.config, deps.log, deps.calls),
        )
      : null
  return {
    default: stripe ?? manualProvider,
    manual: manualProvider,
    stripe,
    of(name) {
      if (name === 'stripe') {
        if (!stripe) {
          throw new AppError(
            'provider_unavailable',
            'This subscription is billed by Stripe, which is not configured',
          )
        }
        return stripe
      }
      return manualProvider
    },
  }
}
