// What a plan change would do, without doing it: the charge now (the same proration the change
// uses), the price difference per period, and the limits the account would be over on the target
// plan given its usage today.
import { and, eq, ne, sql } from 'drizzle-orm'
import { type Executor, queryRows } from '../../core/db.ts'
import { addDays } from '../../core/time.ts'
import { periodEnd, prorationCents, remainingFraction } from '../billing/periods.ts'
import { featureKind } from '../plans/features.ts'
import { getPlanById, getSubscribablePlan, subscriberPrice } from '../plans/plans.ts'
import { grantsAccess } from './access.ts'
import { trialAvailable } from './lifecycle.ts'
import type { ChangePreview } from './schemas.ts'
import { subscriptions } from './tables.ts'

export async function previewChange(
  tx: Executor,
  accountId: string,
  planCode: string,
  now: Date,
): Promise<ChangePreview> {
  const target = await getSubscribablePlan(tx, planCode)
  const [live] = await tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'expired')))
  const current = live && grantsAccess(live, now) ? live : null
  const from = current ? await getPlanById(tx, current.planId) : null
  let amount = target.priceCents
  let end = periodEnd(now, target.interval)
  let trialEnd: Date | null = null
  let change: ChangePreview['change'] = 'new'
  // Compared with what the subscriber pays, which may be less than the plan's price today.
  let next = subscriberPrice(target)
  if (current && from) {
    const sameInterval = current.interval === target.interval
    const fraction = remainingFraction(current.currentPeriodStart, current.currentPeriodEnd, now)
    if (from.id === target.id) change = 'same'
    else
      change =
        target.tier > from.tier || (target.tier === from.tier && target.priceCents > current.priceCents)
          ? 'upgrade'
          : 'downgrade'
    amount =
      change === 'same' || current.status === 'trialing'
        ? 0
        : sameInterval
          ? prorationCents(current.priceCents, target.priceCents, fraction)
          : Math.max(0, target.priceCents - Math.round(current.priceCents * fraction))
    end = sameInterval || change === 'same' ? current.currentPeriodEnd : end
    if (change === 'same') next = current
  } else if (target.trialDays > 0 && (await trialAvailable(tx, accountId))) {
    // A new subscription with the plan's trial: nothing now, the first charge when the trial ends.
    trialEnd = addDays(now, target.trialDays)
    amount = 0
    end = trialEnd
  }
  return {
    plan: target.code,
    current_plan: from?.code ?? null,
    change,
    currency: next.currency,
    amount_due_now_cents: amount,
    price_difference_cents: next.priceCents - (current && from ? current.priceCents : 0),
    next_period_price_cents: next.priceCents,
    period_end: end.toISOString(),
    trial_end: trialEnd?.toISOString() ?? null,
    exceeded_limits: await exceededLimits(tx, accountId, target.limits, now),
  }
}

async function exceededLimits(
  tx: Executor,
  accountId: string,
  limits: Record<string, number | null>,
  now: Date,
): Promise<ChangePreview['exceeded_limits']> {
  const counters = await queryRows<{ feature: string; period: string; used: number }>(
    tx,
    sql`with day as (
          select (${now.toISOString()}::timestamptz at time zone a.timezone)::date as d from accounts a where a.id = ${accountId}::uuid
        )
        select c.feature, c.period, c.used::int as used from usage_counters c, day
        where c.account_id = ${accountId}::uuid
          and c.period in ('', to_char(day.d, 'YYYY-MM-DD'), to_char(day.d, 'YYYY-MM'))`,
  )
  const periodLength = { count: 0, per_day: 10, per_month: 7 } as const
  const exceeded: ChangePreview['exceeded_limits'] = []
  for (const [feature, limit] of Object.entries(limits)) {
    if (limit === null) continue
    const length = periodLength[featureKind(feature)]
    const used = counters.find((c) => c.feature === feature && c.period.length === length)?.used ?? 0
    if (used > limit) exceeded.push({ feature, limit, used })
  }
  return exceeded
}
