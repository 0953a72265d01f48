import { type SQL, sql } from 'drizzle-orm'
import type { SubscriptionStatus } from './tables.ts'

// Access is decided when a request is made, from status and period end, so it is right even when
// the expiry sweep has not run yet. The SQL and the TypeScript forms below must say the same thing.

const statusesWithAccess: SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'canceled']

/** True when a subscription in this state grants access at `now`. */
export function grantsAccess(
  subscription: { status: SubscriptionStatus; currentPeriodEnd: Date },
  now: Date,
): boolean {
  return statusesWithAccess.includes(subscription.status) && subscription.currentPeriodEnd > now
}

/** The same rule as `grantsAccess`, for a `subscriptions` row aliased as `alias` in a query. */
export function grantsAccessSql(alias: string, now: Date): SQL {
  const a = sql.raw(alias)
  return sql`(${a}.status in ('trialing', 'active', 'past_due', 'canceled') and ${a}.current_period_end > ${now.toISOString()}::timestamptz)`
}

/**
 * The status a client sees at `now`. A subscription whose access has lapsed reads `expired` even
 * before the sweep writes it; one canceled immediately (it has `ended_at`) reads `canceled`.
 */
export function effectiveStatus(
  subscription: { status: SubscriptionStatus; currentPeriodEnd: Date; endedAt: Date | null },
  now: Date,
): SubscriptionStatus {
  const { status } = subscription
  if (status === 'expired' || status === 'incomplete' || grantsAccess(subscription, now)) return status
  return status === 'canceled' && subscription.endedAt ? 'canceled' : 'expired'
}
