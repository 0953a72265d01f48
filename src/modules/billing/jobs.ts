import { z } from 'zod'
import { defineJob } from '../jobs/define.ts'

/**
 * When plangate ends a subscription's access on its own (a grace period ran out), the provider's
 * subscription is ended too, so the customer is not charged for access they no longer have.
 * Enqueued by the subscription rules; run by the provider's adapter (`stripe/jobs.ts`).
 */
export const endProviderSubscription = defineJob({
  name: 'billing.end-provider-subscription',
  payload: z.object({ provider: z.literal('stripe'), subscription_id: z.string().min(1) }),
  retryLimit: 10,
  retryDelaySeconds: 60,
})
