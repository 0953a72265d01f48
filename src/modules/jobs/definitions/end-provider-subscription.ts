// When plangate ends a subscription's access on its own (a grace period ran out), the provider's
// subscription is ended too, so the customer is not charged for access they no longer have.
import { z } from 'zod'
import { defineJob } from '../define.ts'

export const endProviderSubscription = defineJob({
  name: 'billing.end-provider-subscription',
  payload: z.object({ provider: z.literal('stripe'), subscription_id: z.string().min(1) }),
  retryLimit: 10,
  retryDelaySeconds: 60,
  async handler({ deps }, { subscription_id }) {
    if (!deps.billing.stripe) throw new Error('Stripe is not configured')
    await deps.billing.stripe.background.cancelNow(subscription_id)
  },
})
