// The subscription lifecycle for the built-in `manual` provider: subscriptions are active at once
// and each charge is recorded as an open invoice. Every transition is written to the history.
import { and, desc, eq, ne, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import { recordInvoice } from '../billing/invoices.ts'
import { getPlanById, getSubscribablePlan, type PlanRow } from '../plans/plans.ts'
import { effectiveStatus, grantsAccess } from './access.ts'
import { type Interval, periodEnd, prorationCents, remainingFraction } from './periods.ts'
import type { ChangePlanBody, Subscription } from './schemas.ts'
import { type SubscriptionStatus, subscriptionEvents, subscriptions } from './tables.ts'

type SubscriptionRow = typeof subscriptions.$inferSelect

interface Actor {
  accountId: string
  userId: string
  now: Date
}

export function toSubscription(
  row: SubscriptionRow,
  planCode: string,
  pendingPlanCode: string | null,
  now: Date,
): Subscription {
  return {
    id: row.id,
    account_id: row.accountId,
    plan: planCode,
    status: effectiveStatus(row, now),
    has_access: grantsAccess(row, now),
    provider: row.provider,
    current_period_start: row.currentPeriodStart.toISOString(),
    current_period_end: row.currentPeriodEnd.toISOString(),
    cancel_at_period_end: row.cancelAtPeriodEnd,
    canceled_at: row.canceledAt?.toISOString() ?? null,
    ended_at: row.endedAt?.toISOString() ?? null,
    trial_end: row.trialEnd?.toISOString() ?? null,
    pending_plan: pendingPlanCode,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

async function present(tx: Executor, row: SubscriptionRow, now: Date): Promise<Subscription> {
  const plan = await getPlanById(tx, row.planId)
  const pending = row.pendingPlanId ? await getPlanById(tx, row.pendingPlanId) : null
  return toSubscription(row, plan.code, pending?.code ?? null, now)
}

/** The account's latest subscription (live or not), or 404. */
export async function getCurrentSubscription(
  tx: Executor,
  accountId: string,
  now: Date,
): Promise<Subscription> {
  const [row] = await tx
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.accountId, accountId))
    .orderBy(desc(subscriptions.id))
    .limit(1)
  if (!row) throw notFound('Subscription')
  return present(tx, row, now)
}

/**
 * Marks the account's subscriptions whose access has ended as `expired`, so the one-live index
 * frees up. The hourly sweep does the same for every account; this keeps requests right without it.
 */
export async function expireEnded(tx: Executor, accountId: string, now: Date): Promise<void> {
  const ended = await tx
    .update(subscriptions)
    .set({
      status: 'expired',
      endedAt: sql`coalesce(${subscriptions.endedAt}, ${subscriptions.currentPeriodEnd})`,
      updatedAt: now,
    })
    .where(
      and(
        eq(subscriptions.accountId, accountId),
        sql`${subscriptions.status} in ('trialing', 'active', 'past_due', 'canceled')`,
        sql`${subscriptions.currentPeriodEnd} <= ${now.toISOString()}::timestamptz`,
      ),
    )
    .returning()
  for (const row of ended) {
    await recordEvent(tx, row, 'expired', { now })
  }
}

async function recordEvent(
  tx: Executor,
  row: SubscriptionRow,
  type: string,
  options: {
    fromStatus?: string | null
    fromPlanId?: string | null
    actorUserId?: string | null
    now: Date
    data?: Record<string, unknown>
  },
): Promise<void> {
  await tx.insert(subscriptionEvents).values({
    id: newId(),
    subscriptionId: row.id,
    accountId: row.accountId,
    type,
    fromStatus: options.fromStatus ?? null,
    toStatus: row.status,
    fromPlanId: options.fromPlanId ?? null,
    toPlanId: row.planId,
    actorUserId: options.actorUserId ?? null,
    data: options.data ?? {},
    createdAt: options.now,
  })
}

/** The live subscription, locked for the rest of the transaction, or 404. */
async function lockLive(tx: Executor, accountId: string): Promise<SubscriptionRow> {
  const [row] = await tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'expired')))
    .for('update')
  if (!row) throw notFound('Subscription')
  return row
}

/**
 * Subscribes an account to a plan (manual provider: active at once, an open invoice at the plan's
 * price). The partial unique index admits one live subscription per account: of concurrent
 * subscribes one wins and the rest get 409.
 */
export async function subscribe(tx: Executor, actor: Actor, planCode: string): Promise<Subscription> {
  const { accountId, now } = actor
  const plan = await getSubscribablePlan(tx, planCode)
  await expireEnded(tx, accountId, now)
  const [row] = await tx
    .insert(subscriptions)
    .values({
      id: newId(),
      accountId,
      planId: plan.id,
      status: 'active',
      provider: 'manual',
      currentPeriodStart: now,
      currentPeriodEnd: periodEnd(now, plan.interval as Interval),
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (!row) throw new AppError('conflict', 'The account already has a live subscription')
  await recordEvent(tx, row, 'created', { actorUserId: actor.userId, now })
  await chargePlan(tx, row, plan, plan.priceCents, `${plan.name} (${plan.interval}ly)`, now)
  return toSubscription(row, plan.code, null, now)
}

async function chargePlan(
  tx: Executor,
  row: SubscriptionRow,
  plan: PlanRow,
  amount: number,
  description: string,
  now: Date,
) {
  if (amount <= 0) return
  await recordInvoice(tx, {
    accountId: row.accountId,
    subscriptionId: row.id,
    provider: row.provider,
    amountCents: amount,
    currency: plan.currency,
    status: 'open',
    description,
    periodStart: now > row.currentPeriodStart ? now : row.currentPeriodStart,
    periodEnd: row.currentPeriodEnd,
    now,
  })
}

/**
 * Changes plan now (an upgrade is invoiced pro rata for the rest of the period; a downgrade is not
 * refunded) or schedules it for period end. Nothing is deleted on a downgrade: the account may be
 * over its new limits, and new creations are refused until it is back under.
 */
export async function changePlan(tx: Executor, actor: Actor, input: ChangePlanBody): Promise<Subscription> {
  const { accountId, now } = actor
  const current = await lockLive(tx, accountId)
  if (!grantsAccess(current, now)) throw notFound('Subscription')
  if (current.status === 'canceled')
    throw new AppError('conflict', 'The subscription is canceled; resume it first')
  const target = await getSubscribablePlan(tx, input.plan)
  const from = await getPlanById(tx, current.planId)
  if (target.id === from.id) {
    if (!current.pendingPlanId)
      throw new AppError('conflict', `The subscription is already on ${target.code}`)
    // Choosing the current plan again cancels a scheduled change.
    const [row] = await tx
      .update(subscriptions)
      .set({ pendingPlanId: null, updatedAt: now })
      .where(eq(subscriptions.id, current.id))
      .returning()
    if (!row) throw notFound('Subscription')
    await recordEvent(tx, row, 'scheduled_change_canceled', {
      fromStatus: current.status,
      fromPlanId: from.id,
      actorUserId: actor.userId,
      now,
    })
    return toSubscription(row, from.code, null, now)
  }
  if (input.when === 'period_end') {
    const [row] = await tx
      .update(subscriptions)
      .set({ pendingPlanId: target.id, updatedAt: now })
      .where(eq(subscriptions.id, current.id))
      .returning()
    if (!row) throw notFound('Subscription')
    await recordEvent(tx, row, 'change_scheduled', {
      fromStatus: current.status,
      fromPlanId: from.id,
      actorUserId: actor.userId,
      now,
      data: { pending_plan: target.code },
    })
    return toSubscription(row, from.code, target.code, now)
  }
  const sameInterval = target.interval === from.interval
  const fraction = remainingFraction(current.currentPeriodStart, current.currentPeriodEnd, now)
  // A different interval starts a new period now, with the unused part of the old one credited.
  const periodStart = sameInterval ? current.currentPeriodStart : now
  const newEnd = sameInterval ? current.currentPeriodEnd : periodEnd(now, target.interval as Interval)
  const amount = sameInterval
    ? prorationCents(from.priceCents, target.priceCents, fraction)
    : Math.max(0, target.priceCents - Math.round(from.priceCents * fraction))
  const [row] = await tx
    .update(subscriptions)
    .set({
      planId: target.id,
      pendingPlanId: null,
      currentPeriodStart: periodStart,
      currentPeriodEnd: newEnd,
      updatedAt: now,
    })
    .where(eq(subscriptions.id, current.id))
    .returning()
  if (!row) throw notFound('Subscription')
  await recordEvent(tx, row, target.tier >= from.tier ? 'upgraded' : 'downgraded', {
    fromStatus: current.status,
    fromPlanId: from.id,
    actorUserId: actor.userId,
    now,
    data: { amount_cents: amount },
  })
  await chargePlan(tx, row, target, amount, `Change from ${from.name} to ${target.name}`, now)
  return toSubscription(row, target.code, null, now)
}

/** Cancels at period end (access until then, resumable) or now (access ends at once). */
export async function cancel(tx: Executor, actor: Actor, atPeriodEnd: boolean): Promise<Subscription> {
  const { now } = actor
  const current = await lockLive(tx, actor.accountId)
  if (!grantsAccess(current, now) && current.status !== 'incomplete') throw notFound('Subscription')
  if (atPeriodEnd && current.status === 'canceled')
    throw new AppError('conflict', 'The subscription is already canceled')
  const [row] = await tx
    .update(subscriptions)
    .set(
      atPeriodEnd
        ? {
            status: 'canceled',
            cancelAtPeriodEnd: true,
            canceledAt: now,
            pendingPlanId: null,
            updatedAt: now,
          }
        : {
            status: 'canceled',
            cancelAtPeriodEnd: false,
            canceledAt: current.canceledAt ?? now,
            endedAt: now,
            currentPeriodEnd: now,
            pendingPlanId: null,
            updatedAt: now,
          },
    )
    .where(eq(subscriptions.id, current.id))
    .returning()
  if (!row) throw notFound('Subscription')
  await recordEvent(tx, row, atPeriodEnd ? 'cancel_scheduled' : 'canceled', {
    fromStatus: current.status,
    fromPlanId: current.planId,
    actorUserId: actor.userId,
    now,
  })
  return present(tx, row, now)
}

/** Undoes a cancel-at-period-end before the period is over. */
export async function resume(tx: Executor, actor: Actor): Promise<Subscription> {
  const { now } = actor
  const current = await lockLive(tx, actor.accountId)
  if (current.status !== 'canceled' || !current.cancelAtPeriodEnd || !grantsAccess(current, now)) {
    throw new AppError(
      'conflict',
      'Only a subscription canceled at period end can be resumed before its period ends',
    )
  }
  const status: SubscriptionStatus = current.trialEnd && current.trialEnd > now ? 'trialing' : 'active'
  const [row] = await tx
    .update(subscriptions)
    .set({ status, cancelAtPeriodEnd: false, canceledAt: null, updatedAt: now })
    .where(eq(subscriptions.id, current.id))
    .returning()
  if (!row) throw notFound('Subscription')
  await recordEvent(tx, row, 'resumed', {
    fromStatus: current.status,
    fromPlanId: current.planId,
    actorUserId: actor.userId,
    now,
  })
  return present(tx, row, now)
}
