// The hourly sweep: Stripe changes scheduled for period end handed to Stripe before it renews,
// manual renewals (made ahead of the period end, so access never lapses while the job waits for
// its turn), trial and grace reminders, and expiry. Each subscription is handled
// in its own short transaction with `skip locked`, so two workers sweeping at once share the
// work and a request holding a subscription is never waited on.
import { and, asc, eq, gt, inArray, isNotNull, lte, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import type { Db, Executor } from '../../core/db.ts'
import { systemActor } from '../audit/audit.ts'
import { periodEnd } from '../billing/periods.ts'
import { getPlanById, type PlanRow, subscriberPrice } from '../plans/plans.ts'
import { expireLapsed, type LifecycleDeps, recordCharge, scheduledChangeLeadMs } from './lifecycle.ts'
import { remindGraceEnding, remindTrialEnding } from './reminders.ts'
import { type SubscriptionRow, subscriptions } from './tables.ts'
import { applyState } from './transitions.ts'

/** Manual subscriptions are renewed this long before their period ends. */
export const renewalLeadMs = scheduledChangeLeadMs
/** The reminder that a grace period is about to end goes out this long before. */
export const graceReminderMs = 24 * 3_600_000
const batch = 50
/** Wall-clock time the sweep may spend handing changes to Stripe (an outage must not hold it). */
const handOverBudgetMs = 5 * 60_000

export interface SweepResult {
  /** Stripe subscriptions whose change scheduled for period end was handed to Stripe. */
  scheduled: number
  renewed: number
  reminded: number
  expired: number
}

/** A provider that takes changes scheduled for period end shortly before it renews (Stripe). */
interface ScheduledChangeTaker {
  applyScheduledChange(executor: Executor, row: SubscriptionRow, to: PlanRow): Promise<void>
}

/** What the sweep needs; `billing.stripe` when Stripe is configured (its background twin is used). */
export interface SweepDeps extends LifecycleDeps {
  db: Db
  log: Logger
  config: LifecycleDeps['config'] & Pick<Config, 'TRIAL_REMINDER_DAYS'>
  billing: LifecycleDeps['billing'] & { stripe: { background: ScheduledChangeTaker } | null }
}

/** Renews one due manual subscription: the next period, the scheduled plan if any, an open invoice. */
async function renewOne(tx: Executor, deps: LifecycleDeps, row: SubscriptionRow, now: Date): Promise<void> {
  const plan = await getPlanById(tx, row.pendingPlanId ?? row.planId)
  // The subscriber keeps their price; a scheduled change starts the new plan's price of today.
  const price = row.pendingPlanId ? subscriberPrice(plan) : row
  const start = row.currentPeriodEnd
  const end = periodEnd(start, price.interval)
  const ctx = { deps, actor: systemActor, now }
  const after = await applyState(
    tx,
    ctx,
    row,
    {
      status: 'active',
      planId: plan.id,
      pendingPlanId: null,
      currentPeriodStart: start,
      currentPeriodEnd: end,
      priceCents: price.priceCents,
      currency: price.currency,
      interval: price.interval,
    },
    { type: row.status === 'trialing' ? 'trial_ended' : 'renewed' },
  )
  if (after.priceCents > 0) {
    await recordCharge(tx, ctx, after, {
      amountCents: after.priceCents,
      currency: after.currency,
      description: `${plan.name} (${after.interval}ly)`,
      periodStart: start,
      periodEnd: end,
    })
  }
}

async function dueRows(tx: Executor, where: ReturnType<typeof and>) {
  return tx
    .select()
    .from(subscriptions)
    .where(where)
    .orderBy(asc(subscriptions.currentPeriodEnd))
    .limit(1)
    .for('update', { skipLocked: true })
}

/** Runs every step until nothing is due; safe to run concurrently and repeatedly. */
export async function sweep(deps: SweepDeps, now: Date): Promise<SweepResult> {
  const result: SweepResult = { renewed: 0, reminded: 0, expired: 0, scheduled: 0 }
  const renewBefore = new Date(now.getTime() + renewalLeadMs)
  // Renewals first, so a subscription due for renewal is never expired instead.
  for (let i = 0; i < 10_000; i++) {
    const done = await deps.db.transaction(async (tx) => {
      const [row] = await dueRows(
        tx,
        and(
          eq(subscriptions.provider, 'manual'),
          inArray(subscriptions.status, ['active', 'trialing']),
          eq(subscriptions.cancelAtPeriodEnd, false),
          lte(subscriptions.currentPeriodEnd, renewBefore),
        ),
      )
      if (!row) return true
      await renewOne(tx, deps, row, now)
      result.renewed++
      return false
    })
    if (done) break
  }
  const trialWindow = new Date(now.getTime() + deps.config.TRIAL_REMINDER_DAYS * 86_400_000)
  const graceWindow = new Date(now.getTime() + graceReminderMs)
  await deps.db.transaction(async (tx) => {
    const trialing = await tx
      .select()
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.status, 'trialing'),
          sql`${subscriptions.trialEnd} > ${now.toISOString()}::timestamptz and ${subscriptions.trialEnd} <= ${trialWindow.toISOString()}::timestamptz`,
        ),
      )
      .limit(500)
      // Stripe's trial_will_end (holding the row) and another sweep never remind twice.
      .for('update', { skipLocked: true })
    for (const row of trialing) if (await remindTrialEnding(tx, deps, row, now)) result.reminded++
    const pastDue = await tx
      .select()
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.status, 'past_due'),
          sql`${subscriptions.graceUntil} > ${now.toISOString()}::timestamptz and ${subscriptions.graceUntil} <= ${graceWindow.toISOString()}::timestamptz`,
        ),
      )
      .limit(500)
      // Stripe's trial_will_end (holding the row) and another sweep never remind twice.
      .for('update', { skipLocked: true })
    for (const row of pastDue) {
      if (await remindGraceEnding(tx, deps, row, now)) result.reminded++
    }
  })
  for (let i = 0; i < 1000; i++) {
    const expired = await deps.db.transaction((tx) => expireLapsed(tx, deps, { limit: batch }, now))
    result.expired += expired
    if (expired < batch) break
  }
  // Last, as it waits on Stripe: renewals and expiry never wait behind a Stripe outage.
  result.scheduled = await handOverScheduledChanges(deps, now, renewBefore)
  return result
}

/** Stripe: changes scheduled for period end go to Stripe shortly before Stripe renews. */
async function handOverScheduledChanges(deps: SweepDeps, now: Date, before: Date): Promise<number> {
  const stripe = deps.billing.stripe?.background
  if (!stripe) return 0
  const due = await deps.db
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.provider, 'stripe'),
        inArray(subscriptions.status, ['active', 'trialing']),
        eq(subscriptions.cancelAtPeriodEnd, false),
        isNotNull(subscriptions.pendingPlanId),
        // Not one whose renewal webhook is late: its period here is no longer Stripe's.
        gt(subscriptions.currentPeriodEnd, now),
        lte(subscriptions.currentPeriodEnd, before),
      ),
    )
    .orderBy(asc(subscriptions.currentPeriodEnd))
    .limit(500)
  const deadline = Date.now() + handOverBudgetMs
  let handed = 0
  for (const { id } of due) {
    if (Date.now() > deadline) break
    try {
      // Read, then call Stripe with no transaction open; nothing is written here. Two sweeps
      // handing over the same change send the same idempotency key: Stripe does it once.
      const [row] = await deps.db.select().from(subscriptions).where(eq(subscriptions.id, id))
      if (!row?.pendingPlanId || row.cancelAtPeriodEnd) continue
      await stripe.applyScheduledChange(deps.db, row, await getPlanById(deps.db, row.pendingPlanId))
      handed++
    } catch (error) {
      deps.log.warn({ err: error, subscription: id }, 'could not hand a scheduled change to Stripe')
    }
  }
  return handed
}
