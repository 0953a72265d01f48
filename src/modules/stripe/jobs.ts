// Stripe's background work: hourly reconciliation, retries of Stripe events that could not be
// processed when they arrived, and ending a Stripe subscription when plangate ended its access.
import { z } from 'zod'
import type { Deps } from '../../deps.ts'
import { endProviderSubscription } from '../billing/jobs.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import { retryUnprocessed } from './receive.ts'
import { reconcileStripe } from './reconcile.ts'

export const reconcileBilling = defineJob({
  name: 'billing.reconcile',
  payload: z.object({}).passthrough(),
  schedule: '35 * * * *',
  retryLimit: 2,
  expireInSeconds: 3600,
})

export const reconcileBillingHandler = handleJob(reconcileBilling, async (deps: Deps) => {
  if (!deps.billing.stripe) return
  const result = await reconcileStripe({ ...deps, stripe: deps.billing.stripe.background })
  deps.log.info(result, 'stripe reconciliation done')
})

/** Stripe itself redelivers for up to three days; this catches events stored but not processed. */
export const retryStripeEvents = defineJob({
  name: 'billing.retry-stripe-events',
  payload: z.object({}).passthrough(),
  schedule: '*/5 * * * *',
  retryLimit: 1,
  expireInSeconds: 600,
})

export const retryStripeEventsHandler = handleJob(retryStripeEvents, async (deps: Deps) => {
  if (!deps.billing.stripe) return
  await retryUnprocessed({ ...deps, stripe: deps.billing.stripe.background }, 60_000)
})

export const endProviderSubscriptionHandler = handleJob(
  endProviderSubscription,
  async (deps: Deps, { subscription_id }) => {
    if (!deps.billing.stripe) throw new Error('Stripe is not configured')
    await deps.billing.stripe.background.cancelNow(subscription_id)
  },
)
