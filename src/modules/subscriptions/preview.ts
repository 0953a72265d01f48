// What a plan change would do, without doing it: the charge now (the same proration the change
// uses), the price difference per period, and the limits the account would be over on the target
// plan given its usage today.
import { and, eq, ne, sql } from 'drizzle-orm'
import { z } from 'zod'
import { type Executor, queryRows } from '../../core/db.ts'
import { periodEnd, prorationCents, remainingFraction } from '../billing/periods.ts'
import { featureKind } from '../plans/features.ts'
import { getPlanById, getSubscribablePlan } from '../plans/plans.ts'
import { grantsAccess } from './access.ts'
import { subscriptions } from './tables.ts'

// Declared here, not in schemas.ts: OpenAPI components are listed in the order their `.meta({ id })`
// runs (module evaluation order), so moving this schema would reorder the published document.
export const ChangePreview = z
  .object({
    plan: z.string(),
    current_plan: z.string().nullable().describe('Null when the account has no subscription with access.'),
    change: z.enum(['new', 'upgrade', 'downgrade', 'same']),
    currency: z.string(),
    amount_due_now_cents: z
      .number()
      .int()
      .describe(
        'Charged at once for a change made now: pro rata for the rest of the period (never negative).',
      ),
    price_difference_cents: z
      .number()
      .int()
      .describe('Target price minus current price, per billing period.'),
    next_period_price_cents: z.number().int(),
    period_end: z.iso
      .datetime()
      .describe('When the current (or, for a new subscription, the first) period ends.'),
    exceeded_limits: z
      .array(z.object({ feature: z.string(), limit: z.number().int(), used: z.number().int() }))
      .describe(
        'Limits of the target plan the account is over today; creations would be refused until it is back under.',
      ),
  })
  .meta({
    id: 'ChangePreview',
    example: {
      plan: 'pro',
      current_plan: 'basic',
      change: 'upgrade',
      currency: 'usd',
      amount_due_now_cents: 1500,
      price_difference_cents: 3000,
      next_period_price_cents: 4900,
      period_end: '2026-12-01T09:00:00.000Z',
      exceeded_limits: [],
    },
  })
export type ChangePreview = z.infer<typeof ChangePreview>

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
  let change: ChangePreview['change'] = 'new'
  if (current && from) {
    const sameInterval = from.interval === target.interval
    const fraction = remainingFraction(current.currentPeriodStart, current.currentPeriodEnd, now)
    if (from.id === target.id) change = 'same'
    else
      change =
        target.tier > from.tier || (target.tier === from.tier && target.priceCents > from.priceCents)
          ? 'upgrade'
          : 'downgrade'
    amount =
      change === 'same' || current.status === 'trialing'
        ? 0
        : sameInterval
          ? prorationCents(from.priceCents, target.priceCents, fraction)
          : Math.max(0, target.priceCents - Math.round(from.priceCents * fraction))
    end = sameInterval || change === 'same' ? current.currentPeriodEnd : end
  }
  return {
    plan: target.code,
    current_plan: from?.code ?? null,
    change,
    currency: target.currency,
    amount_due_now_cents: amount,
    price_difference_cents: target.priceCents - (from?.priceCents ?? 0),
    next_period_price_cents: target.priceCents,
    period_end: end.toISOString(),
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
