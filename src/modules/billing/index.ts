// Chooses the payment providers from the configuration: `stripe` when its keys are set (then new
// subscriptions use it), `manual` always (existing manual subscriptions keep it).

import { AppError } from '../../core/errors.ts'
import { createStripeClient } from '../stripe/client.ts'
import { createStripeGuard } from '../stripe/guard.ts'
import { createStripeProvider } from '../stripe/provider.ts'
import { manualProvider } from './manual.ts'
import type { Billing, BillingDeps } from './provider.ts'

export function createBilling(deps: BillingDeps): Billing {
  const interactive = createStripeClient(deps.config, 'interactive')
  const background = createStripeClient(deps.config, 'background')
  // One guard per instance: every Stripe call of this process shares its breaker.
  const stripe =
    interactive && background
      ? createStripeProvider({ interactive, background }, deps, createStripeGuard(deps.config, deps.log))
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
