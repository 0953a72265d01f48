// `checkout.session.completed` links the paid Checkout to its Stripe subscription (re-read and
// mirrored); `checkout.session.expired` ends an unpaid one.
import type Stripe from 'stripe'
import { expireCheckout, findByCheckoutSession } from '../../subscriptions/sync.ts'
import { idOf } from '../client.ts'
import { ignore, readOf, readSubscription, type StripeEventHandler, see, unchanged } from './reads.ts'
import { syncSubscription } from './subscriptions.ts'

export const checkoutCompleted = (event: Stripe.CheckoutSessionCompletedEvent): StripeEventHandler => {
  const session = event.data.object
  const subscriptionId = idOf(session.subscription)
  return {
    async read(deps, reads) {
      if (session.mode !== 'subscription' || !subscriptionId) return
      const row = await findByCheckoutSession(deps.db, 'stripe', session.id, { lock: false })
      // Not ours: nothing to ask Stripe (should it become ours meanwhile, the transaction reads again).
      if (!row) return
      see(reads, row)
      await readSubscription(deps, reads, subscriptionId)
    },
    async apply(tx, deps, ctx, reads) {
      if (session.mode !== 'subscription') return
      const row = await findByCheckoutSession(tx, 'stripe', session.id, { lock: true })
      if (!row) return ignore(deps, event, 'no subscription of ours has this Checkout session')
      if (!subscriptionId) return ignore(deps, event, 'the session has no subscription')
      if (row.providerSubscriptionId && row.providerSubscriptionId !== subscriptionId) {
        return ignore(deps, event, 'the subscription is linked to another Stripe subscription')
      }
      await syncSubscription(
        tx,
        deps,
        ctx,
        unchanged(reads, row),
        readOf(reads.subscriptions, subscriptionId),
      )
    },
  }
}

export const checkoutExpired = (event: Stripe.CheckoutSessionExpiredEvent): StripeEventHandler => {
  const session = event.data.object
  return {
    // Nothing to read: an expired session is final.
    async read() {},
    async apply(tx, deps, ctx) {
      if (session.mode !== 'subscription') return
      const row = await findByCheckoutSession(tx, 'stripe', session.id, { lock: true })
      if (!row) return ignore(deps, event, 'no subscription of ours has this Checkout session')
      if (row.status !== 'incomplete') return
      await expireCheckout(tx, ctx, row)
    },
  }
}
