// `customer.subscription.*`: the subscription is re-read from Stripe and mirrored. Also the
// helpers the other events use to find and sync the subscription they name.
import type Stripe from 'stripe'
import type { Executor } from '../../../core/db.ts'
import { accountOfStripeCustomer } from '../../accounts/stripe-customer.ts'
import {
  applyProviderState,
  findAwaitingCheckout,
  findByProviderSubscription,
  remindTrialEnding,
  type SubscriptionRow,
  type TransitionContext,
} from '../../subscriptions/sync.ts'
import { idOf } from '../client.ts'
import {
  ChangedMeanwhile,
  ignore,
  readOf,
  readSubscription,
  type StripeEventDeps,
  type StripeEventHandler,
  see,
  unchanged,
} from './reads.ts'

/** The events that say a Stripe subscription changed (its re-read says how). */
export type SubscriptionChangedEvent = Extract<
  Stripe.Event,
  {
    type:
      | 'customer.subscription.created'
      | 'customer.subscription.updated'
      | 'customer.subscription.deleted'
      | 'customer.subscription.paused'
      | 'customer.subscription.resumed'
      | 'customer.subscription.pending_update_applied'
      | 'customer.subscription.pending_update_expired'
      | 'customer.subscription.trial_will_end'
  }
>

/**
 * The local subscription a Stripe subscription belongs to: by its id, or (before the Checkout
 * completion is processed) the account's unpaid Checkout named in its metadata, if the customer is
 * that account's.
 */
export async function linkedSubscription(
  executor: Executor,
  subscription: Stripe.Subscription,
  lock: boolean,
): Promise<SubscriptionRow | null> {
  const linked = await findByProviderSubscription(executor, 'stripe', subscription.id, { lock })
  if (linked) return linked
  const accountId = subscription.metadata?.plangate_account_id
  const customer = idOf(subscription.customer)
  if (!accountId || !customer || !/^[0-9a-f-]{36}$/i.test(accountId)) return null
  const account = await accountOfStripeCustomer(executor, customer)
  if (account?.id !== accountId) return null
  return findAwaitingCheckout(executor, 'stripe', accountId, { lock })
}

/** Applies the re-read Stripe subscription to the (locked, unchanged since the read) row. */
export async function syncSubscription(
  tx: Executor,
  deps: StripeEventDeps,
  ctx: TransitionContext,
  row: SubscriptionRow,
  fresh: Stripe.Subscription,
): Promise<SubscriptionRow> {
  return applyProviderState(tx, ctx, row, await deps.stripe.stateOf(tx, fresh, row))
}

/** A Stripe subscription changed: mirror its current state; `trial_will_end` also reminds the owners. */
export const subscriptionChanged = (event: SubscriptionChangedEvent): StripeEventHandler => {
  const object = event.data.object
  return {
    async read(deps, reads) {
      const row = await linkedSubscription(deps.db, object, false)
      if (!row) return
      see(reads, row)
      await readSubscription(deps, reads, object.id)
    },
    async apply(tx, deps, ctx, reads) {
      const row = await linkedSubscription(tx, object, true)
      if (!row) {
        if (reads.seen.size > 0) throw new ChangedMeanwhile()
        return ignore(deps, event, 'not a subscription plangate created')
      }
      const after = await syncSubscription(
        tx,
        deps,
        ctx,
        unchanged(reads, row),
        readOf(reads.subscriptions, object.id),
      )
      if (event.type === 'customer.subscription.trial_will_end' && after.status === 'trialing') {
        await remindTrialEnding(tx, deps, after, ctx.now)
      }
    },
  }
}
