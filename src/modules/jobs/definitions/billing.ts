// Scheduled billing work: the subscription sweep, Stripe reconciliation, and retries of Stripe
// events that could not be processed when they arrived.
import { z } from 'zod'
import { retryUnprocessed } from '../../stripe/receive.ts'
import { reconcileStripe } from '../../stripe/reconcile.ts'
import { sweep } from '../../subscriptions/sweep.ts'
import { defineJob } from '../define.ts'

export const sweepSubscriptions = defineJob({
  name: 'subscriptions.sweep',
  payload: z.object({}).passthrough(),
  schedule: '5 * * * *',
  retryLimit: 2,
  expireInSeconds: 1800,
  async handler({ deps }) {
    const result = await sweep(deps, deps.clock.now())
    deps.log.info(result, 'subscription sweep done')
  },
})

export const reconcileBilling = defineJob({
  name: 'billing.reconcile',
  payload: z.object({}).passthrough(),
  schedule: '35 * * * *',
  retryLimit: 2,
  expireInSeconds: 3600,
  async handler({ deps }) {
    if (!deps.billing.stripe) return
    const result = await reconcileStripe({ ...deps, stripe: deps.billing.stripe.background })
    deps.log.info(result, 'stripe reconciliation done')
  },
})

/** Stripe itself redelivers for up to three days; this catches events stored but not processed. */
export const retryStripeEvents = defineJob({
  name: 'billing.retry-stripe-events',
  payload: z.object({}).passthrough(),
  schedule: '*/5 * * * *',
  retryLimit: 1,
  expireInSeconds: 600,
  async handler({ deps }) {
    if (!deps.billing.stripe) return
    await retryUnprocessed({ ...deps, stripe: deps.billing.stripe.background }, 60_000)
  },
})
