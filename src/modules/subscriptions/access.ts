import { is, SQL, sql } from 'drizzle-orm'
import { instant, type Value } from '../../core/statement.ts'
import type { SubscriptionStatus } from './tables.ts'

// Access is decided when a request is made, from the status and the period end (for `past_due`,
// the end of the grace period), so it is right even when the expiry sweep has not run yet. The
// SQL and the TypeScript forms below must say the same thing; a unit test holds them together.

/**
 * A renewing Stripe subscription keeps access this long past its period end: Stripe renews it at
 * the boundary and says so by webhook, and a late webhook must not cut the customer off (hourly
 * reconciliation repairs a missing one well within it).
 */
export const stripeRenewalLeewayMs = 24 * 3_600_000
const leewayInterval = sql.raw(`interval '${stripeRenewalLeewayMs / 1000} seconds'`)

export interface AccessFields {
  status: SubscriptionStatus
  provider: string
  currentPeriodEnd: Date
  /** Until when a `past_due` subscription keeps access; without one, the period end decides. */
  graceUntil: Date | null
}

/** The instant access ends for a subscription in this state (null: it has none to end). */
export function accessEndsAt(subscription: AccessFields): Date | null {
  switch (subscription.status) {
    case 'trialing':
    case 'active':
      return subscription.provider === 'stripe'
        ? new Date(subscription.currentPeriodEnd.getTime() + stripeRenewalLeewayMs)
        : subscription.currentPeriodEnd
    case 'canceled':
      return subscription.currentPeriodEnd
    case 'past_due':
      return subscription.graceUntil ?? subscription.currentPeriodEnd
    default:
      return null
  }
}

/** True when a subscription in this state grants access at `now`. */
export function grantsAccess(subscription: AccessFields, now: Date): boolean {
  const end = accessEndsAt(subscription)
  return end !== null && end > now
}

/**
 * The same rule as `grantsAccess`, for a `subscriptions` row aliased as `alias` in a query; `now`
 * may also be a `timestamptz` expression of the query (one instant per row of a series).
 */
export function grantsAccessSql(alias: string, now: Value<Date> | SQL): SQL {
  const a = sql.raw(alias)
  const at = is(now, SQL) ? now : instant(now)
  return sql`((${a}.status in ('trialing', 'active', 'canceled') and ${a}.current_period_end > ${at})
    or (${a}.status in ('trialing', 'active') and ${a}.provider = 'stripe' and ${a}.current_period_end + ${leewayInterval} > ${at})
    or (${a}.status = 'past_due' and coalesce(${a}.grace_until, ${a}.current_period_end) > ${at}))`
}

/**
 * The status a client sees at `now`. A subscription whose access has lapsed reads `expired` even
 * before the sweep writes it; one canceled immediately (it has `ended_at`) reads `canceled`.
 */
export function effectiveStatus(
  subscription: AccessFields & { endedAt: Date | null },
  now: Date,
): SubscriptionStatus {
  const { status } = subscription
  if (status === 'expired' || status === 'incomplete' || grantsAccess(subscription, now)) return status
  return status === 'canceled' && subscription.endedAt ? 'canceled' : 'expired'
}
