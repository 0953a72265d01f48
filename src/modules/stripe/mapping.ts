// How a Stripe subscription reads in plangate's terms. Used for the answers to our own calls, for
// webhooks (after re-reading the subscription, so a late event never overwrites newer state) and
// for reconciliation: one mapping, so the three always agree.
import type Stripe from 'stripe'
import type { Executor } from '../../core/db.ts'
import { planIntervals } from '../../core/vocabulary.ts'
import type { ProviderState, ProviderSubscription, SubscriptionStatus } from '../billing/provider.ts'
import { findPlanByCode, findPlanByStripePrice } from '../plans/stripe-ids.ts'
import { fromUnix, idOf } from './client.ts'

/** The plan a Stripe price belongs to: by the `plan_code` plangate puts on its prices, else by the plan's current price. */
export async function planForPrice(tx: Executor, price: Stripe.Price | string | null | undefined) {
  if (!price) return null
  if (typeof price !== 'string' && price.metadata?.plan_code) {
    const byCode = await findPlanByCode(tx, price.metadata.plan_code)
    if (byCode) return byCode
  }
  return findPlanByStripePrice(tx, idOf(price))
}

/**
 * Whether the subscription ends with its current period: `cancel_at_period_end`, or a `cancel_at`
 * within the period (a later `cancel_at` leaves it renewing until then).
 */
function endsWithPeriod(subscription: Stripe.Subscription): boolean {
  if (subscription.cancel_at_period_end) return true
  const end = periodOf(subscription)?.end
  return subscription.cancel_at != null && end !== undefined && subscription.cancel_at * 1000 <= end.getTime()
}

function statusOf(subscription: Stripe.Subscription): SubscriptionStatus {
  switch (subscription.status) {
    case 'trialing':
      // plangate's `canceled` is "will end or has ended".
      return endsWithPeriod(subscription) ? 'canceled' : 'trialing'
    case 'active':
      return endsWithPeriod(subscription) ? 'canceled' : 'active'
    case 'past_due':
    case 'unpaid':
    case 'paused':
      return 'past_due'
    case 'incomplete':
      return 'incomplete'
    case 'incomplete_expired':
      return 'expired'
    case 'canceled':
      return 'canceled'
    default:
      return 'past_due'
  }
}

/** The period of the subscription's first item (API versions since 2025 keep periods on items). */
export function periodOf(subscription: Stripe.Subscription): { start: Date; end: Date } | null {
  const item = subscription.items.data[0] as
    | (Stripe.SubscriptionItem & { current_period_start?: number; current_period_end?: number })
    | undefined
  // API versions before 2025 keep the period on the subscription itself.
  const legacy = subscription as Stripe.Subscription & {
    current_period_start?: number
    current_period_end?: number
  }
  const start = fromUnix(item?.current_period_start ?? legacy.current_period_start)
  const end = fromUnix(item?.current_period_end ?? legacy.current_period_end)
  return start && end ? { start, end } : null
}

/** What Stripe bills for the price, when it is a flat recurring price of an interval plans use. */
function billedPrice(
  price: Stripe.Price | undefined,
): Pick<ProviderState, 'priceCents' | 'currency' | 'interval'> {
  const interval = planIntervals.find((known) => known === price?.recurring?.interval)
  if (!price || price.unit_amount === null || !interval) return {}
  return { priceCents: price.unit_amount, currency: price.currency, interval }
}

/**
 * The state of `before` that `subscription` describes. A change to a price scheduled for period
 * end (see the Stripe provider) keeps the current plan until Stripe starts the next period.
 */
export async function stateFromStripe(
  tx: Executor,
  subscription: Stripe.Subscription,
  before: ProviderSubscription,
): Promise<ProviderState> {
  const status = statusOf(subscription)
  const period = periodOf(subscription)
  const item = subscription.items.data[0]
  const plan = await planForPrice(tx, item?.price)
  const state: ProviderState = {
    status,
    providerSubscriptionId: subscription.id,
    providerPriceId: item?.price ? idOf(item.price) : before.providerPriceId,
    cancelAtPeriodEnd: subscription.status !== 'canceled' && endsWithPeriod(subscription),
    canceledAt: fromUnix(subscription.canceled_at),
    endedAt: fromUnix(subscription.ended_at),
    trialEnd: fromUnix(subscription.trial_end),
    ...billedPrice(item?.price),
  }
  if (period) {
    state.currentPeriodStart = period.start
    state.currentPeriodEnd = period.end
  }
  if (status === 'canceled' && subscription.ended_at) {
    // Ended now: access ends with it, as with an immediate cancel.
    const ended = fromUnix(subscription.ended_at) as Date
    if (!period || period.end > ended) state.currentPeriodEnd = ended
  }
  if (plan) {
    const samePeriod = period !== null && period.start.getTime() === before.currentPeriodStart.getTime()
    if (before.pendingPlanId === plan.id && plan.id !== before.planId && samePeriod) {
      // Scheduled for period end: Stripe already bills the new price from the next period on.
      state.planId = before.planId
      state.providerPriceId = before.providerPriceId
      delete state.priceCents
      delete state.currency
      delete state.interval
    } else {
      state.planId = plan.id
      if (plan.id !== before.planId || !samePeriod) state.pendingPlanId = null
    }
  }
  return state
}
