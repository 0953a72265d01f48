// Every change of a subscription goes through `applyState`: it writes the row, and for a real
// change records the transition in the subscription history and the audit log, emits the
// outgoing event(s) and queues the customer's email, all in the caller's transaction.
import { eq, inArray } from 'drizzle-orm'
import type { Config } from '../../config.ts'
import type { Clock } from '../../core/clock.ts'
import type { Executor } from '../../core/db.ts'
import { newId } from '../../core/ids.ts'
import { addDays } from '../../core/time.ts'
import { type AuditActor, audit } from '../audit/audit.ts'
import type { ProviderState } from '../billing/provider.ts'
import { accountOwners } from '../invitations/owners.ts'
import type { JobSender } from '../jobs/queue.ts'
import { sendMail } from '../mail/jobs.ts'
import type { MailTemplate } from '../mail/templates.ts'
import { getPlanById, type PlanRow, subscriberPrice } from '../plans/plans.ts'
import { plans } from '../plans/tables.ts'
import type { EventType } from '../webhooks/catalogue.ts'
import { emitEvent } from '../webhooks/events.ts'
import { effectiveStatus, grantsAccess } from './access.ts'
import type { Subscription } from './schemas.ts'
import {
  type ChangeType,
  type SubscriptionRow,
  subscriptionEvents,
  subscriptions,
  type TransitionType,
} from './tables.ts'

/** What recording a transition needs: the grace period, the queue (events, mail) and the clock. */
export interface TransitionDeps {
  config: Pick<Config, 'GRACE_PERIOD_DAYS'>
  jobs: JobSender
  clock: Clock
}

export interface TransitionContext {
  deps: TransitionDeps
  actor: AuditActor
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
    price: { amount_cents: row.priceCents, currency: row.currency, interval: row.interval },
    current_period_start: row.currentPeriodStart.toISOString(),
    current_period_end: row.currentPeriodEnd.toISOString(),
    cancel_at_period_end: row.cancelAtPeriodEnd,
    canceled_at: row.canceledAt?.toISOString() ?? null,
    ended_at: row.endedAt?.toISOString() ?? null,
    trial_end: row.trialEnd?.toISOString() ?? null,
    grace_until: row.status === 'past_due' ? (row.graceUntil?.toISOString() ?? null) : null,
    pending_plan: pendingPlanCode,
    checkout_url: row.status === 'incomplete' ? row.checkoutUrl : null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

async function plansById(tx: Executor, ids: (string | null | undefined)[]): Promise<Map<string, PlanRow>> {
  const wanted = [...new Set(ids.filter((id): id is string => Boolean(id)))]
  if (wanted.length === 0) return new Map()
  const rows = await tx.select().from(plans).where(inArray(plans.id, wanted))
  return new Map(rows.map((row) => [row.id, row]))
}

/** The subscription as the API shows it. */
export async function present(tx: Executor, row: SubscriptionRow, now: Date): Promise<Subscription> {
  const byId = await plansById(tx, [row.planId, row.pendingPlanId])
  return toSubscription(
    row,
    byId.get(row.planId)?.code ?? '',
    row.pendingPlanId ? (byId.get(row.pendingPlanId)?.code ?? null) : null,
    now,
  )
}

const compared = [
  'status',
  'planId',
  'pendingPlanId',
  'currentPeriodStart',
  'currentPeriodEnd',
  'cancelAtPeriodEnd',
  'canceledAt',
  'endedAt',
  'trialEnd',
  'graceUntil',
  'providerSubscriptionId',
  'providerPriceId',
  'priceCents',
  'currency',
  'interval',
] as const satisfies (keyof SubscriptionRow)[]

const same = (a: unknown, b: unknown) =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b

/** What kind of change `before` → `after` is, for the history, the audit log and the events. */
function changeType(before: SubscriptionRow, after: SubscriptionRow): ChangeType {
  if (after.status === 'expired') return before.status === 'incomplete' ? 'checkout_expired' : 'expired'
  if (before.status === 'incomplete' && after.status !== 'incomplete') return 'activated'
  if (after.status === 'canceled' && after.endedAt && !before.endedAt) return 'canceled'
  if (after.cancelAtPeriodEnd && !before.cancelAtPeriodEnd) return 'cancel_scheduled'
  if (before.cancelAtPeriodEnd && !after.cancelAtPeriodEnd && after.status !== 'canceled') return 'resumed'
  if (after.status === 'past_due' && before.status !== 'past_due') return 'past_due'
  if (before.status === 'past_due' && after.status !== 'past_due') return 'recovered'
  if (
    after.currentPeriodStart.getTime() > before.currentPeriodStart.getTime() &&
    after.planId === before.planId
  )
    return 'renewed'
  if (after.planId !== before.planId) return 'plan_changed'
  if (after.pendingPlanId !== before.pendingPlanId)
    return after.pendingPlanId ? 'change_scheduled' : 'scheduled_change_canceled'
  if (before.status === 'trialing' && after.status === 'active') return 'trial_ended'
  return 'updated'
}

/**
 * Applies what the provider says to the row. An `expired` subscription, and one that has ended,
 * are final: nothing moves them back (a late event cannot revive them). Returns the row as it is now.
 */
export async function applyState(
  tx: Executor,
  ctx: TransitionContext,
  before: SubscriptionRow,
  state: ProviderState,
  options: { type?: TransitionType; data?: Record<string, unknown> } = {},
): Promise<SubscriptionRow> {
  if (before.status === 'expired') return before
  const ended = before.status === 'canceled' && before.endedAt !== null
  const next: SubscriptionRow = { ...before }
  for (const [key, value] of Object.entries(state)) {
    if (value !== undefined) (next as Record<string, unknown>)[key] = value
  }
  if (ended && next.status !== 'expired') return before
  if (next.planId !== before.planId && state.priceCents === undefined) {
    // Moving to another plan: from now on the subscriber pays that plan's price of today.
    Object.assign(next, subscriberPrice(await getPlanById(tx, next.planId)))
  }
  const { deps, now } = ctx
  next.graceUntil =
    next.status === 'past_due'
      ? before.status === 'past_due' && before.graceUntil
        ? before.graceUntil
        : addDays(now, deps.config.GRACE_PERIOD_DAYS)
      : null
  const changed = compared.filter((key) => !same(before[key], next[key]))
  if (changed.length === 0) return before
  const values: Partial<SubscriptionRow> = { updatedAt: now }
  for (const key of changed) (values as Record<string, unknown>)[key] = next[key]
  if (next.status !== 'incomplete') Object.assign(values, { checkoutUrl: null, checkoutExpiresAt: null })
  const [after] = await tx
    .update(subscriptions)
    .set(values)
    .where(eq(subscriptions.id, before.id))
    .returning()
  if (!after) throw new Error(`subscription ${before.id} vanished`)
  await recordTransition(tx, ctx, before, after, options.type ?? changeType(before, after), {
    changed,
    ...options.data,
  })
  return after
}

/** The outgoing event of each transition type (others: `subscription.updated`; null: none). */
const outgoingType: Partial<Record<TransitionType, EventType | null>> = {
  trial_will_end: 'subscription.trial_will_end',
  grace_ending: null,
  created: 'subscription.created',
  cancel_scheduled: 'subscription.canceled',
  canceled: 'subscription.canceled',
  resumed: 'subscription.resumed',
  expired: 'subscription.expired',
  checkout_expired: 'subscription.expired',
  renewed: 'subscription.renewed',
  trial_ended: 'subscription.renewed',
}

/**
 * History, audit log, outgoing events and email for one transition (`before` null: created).
 * False when it was a reminder already recorded for its occasion: then nothing is done.
 */
export async function recordTransition(
  tx: Executor,
  ctx: TransitionContext,
  before: SubscriptionRow | null,
  after: SubscriptionRow,
  rawType: TransitionType,
  data: Record<string, unknown> = {},
): Promise<boolean> {
  const { deps, actor, now } = ctx
  const byId = await plansById(tx, [after.planId, after.pendingPlanId, before?.planId])
  const plan = byId.get(after.planId)
  const previousPlan = before ? byId.get(before.planId) : undefined
  const type: TransitionType =
    rawType === 'plan_changed' && plan && before && previousPlan
      ? plan.tier > previousPlan.tier ||
        (plan.tier === previousPlan.tier && after.priceCents >= before.priceCents)
        ? 'upgraded'
        : 'downgraded'
      : rawType
  const historyId = newId()
  const recorded = await tx
    .insert(subscriptionEvents)
    .values({
      id: historyId,
      subscriptionId: after.id,
      accountId: after.accountId,
      type,
      fromStatus: before?.status ?? null,
      toStatus: after.status,
      fromPlanId: before?.planId ?? null,
      toPlanId: after.planId,
      actorUserId: actor.userId ?? null,
      priceCents: after.priceCents,
      currency: after.currency,
      interval: after.interval,
      data,
      createdAt: now,
    })
    // Only a reminder already recorded for its occasion conflicts (subscription_events_reminder_key).
    .onConflictDoNothing()
    .returning({ id: subscriptionEvents.id })
  if (recorded.length === 0) return false
  await audit(tx, {
    actor,
    accountId: after.accountId,
    action: `subscription.${type}`,
    subjectType: 'subscription',
    subjectId: after.id,
    data: { from_status: before?.status ?? null, to_status: after.status, ...data },
    at: now,
  })
  const subscription = toSubscription(
    after,
    plan?.code ?? '',
    after.pendingPlanId ? (byId.get(after.pendingPlanId)?.code ?? null) : null,
    now,
  )
  const eventType = outgoingType[type] === undefined ? 'subscription.updated' : outgoingType[type]
  if (eventType) {
    await emitEvent(tx, deps, {
      type: eventType,
      accountId: after.accountId,
      data: {
        change: type,
        subscription,
        previous: before ? { status: before.status, plan: previousPlan?.code ?? null } : null,
      },
    })
  }
  const accessChanged = before === null || grantsAccess(before, now) !== grantsAccess(after, now)
  if (before?.planId !== after.planId || accessChanged) {
    await emitEvent(tx, deps, {
      type: 'entitlements.updated',
      accountId: after.accountId,
      data: {
        account_id: after.accountId,
        plan: plan?.code ?? null,
        has_access: subscription.has_access,
        reason: `subscription.${type}`,
      },
    })
  }
  if (plan) {
    const mail = customerMail(type, before, after, plan, previousPlan, data)
    if (mail) await mailAccountOwners(tx, deps, after.accountId, mail, `${type}:${historyId}`)
  }
  return true
}

function customerMail(
  type: TransitionType,
  before: SubscriptionRow | null,
  after: SubscriptionRow,
  plan: PlanRow,
  previousPlan: PlanRow | undefined,
  data: Record<string, unknown>,
): MailTemplate | null {
  // What the subscriber pays, which may differ from the plan's price today.
  const money = { amount_cents: after.priceCents, currency: after.currency }
  switch (type) {
    case 'created':
    case 'activated':
      if (after.status !== 'active' && after.status !== 'trialing') return null
      return {
        template: 'subscription_started',
        plan_name: plan.name,
        trial_end: after.status === 'trialing' ? (after.trialEnd?.toISOString() ?? null) : null,
        interval: after.interval,
        ...money,
      }
    case 'renewed':
    case 'trial_ended':
      return {
        template: 'subscription_renewed',
        plan_name: plan.name,
        period_end: after.currentPeriodEnd.toISOString(),
        ...money,
      }
    case 'upgraded':
    case 'downgraded':
      return {
        template: 'subscription_changed',
        from_plan: previousPlan?.name ?? '',
        to_plan: plan.name,
        effective: 'now',
        effective_at: after.updatedAt.toISOString(),
        ...(typeof data.amount_cents === 'number' && {
          amount_cents: data.amount_cents,
          currency: plan.currency,
        }),
      }
    case 'cancel_scheduled':
      return {
        template: 'subscription_canceled',
        plan_name: plan.name,
        ends_at: after.currentPeriodEnd.toISOString(),
        immediately: false,
      }
    case 'canceled':
      // A cancellation at period end reaching its end is not news: the customer was told.
      if (before?.cancelAtPeriodEnd && after.endedAt && after.endedAt >= before.currentPeriodEnd) return null
      return {
        template: 'subscription_canceled',
        plan_name: plan.name,
        ends_at: (after.endedAt ?? after.currentPeriodEnd).toISOString(),
        immediately: true,
      }
    case 'trial_will_end':
      return after.trialEnd
        ? { template: 'trial_ending', plan_name: plan.name, trial_end: after.trialEnd.toISOString() }
        : null
    case 'grace_ending':
      return {
        template: 'payment_failed',
        plan_name: plan.name,
        grace_until: (after.graceUntil ?? after.currentPeriodEnd).toISOString(),
        reminder: true,
        ...money,
      }
    default:
      return null
  }
}

/**
 * The active owners' addresses (or, while an account made with an API key has no owner yet, its
 * pending owner invitation's): they get the account's billing mail.
 */
export async function ownerEmails(tx: Executor, accountId: string): Promise<string[]> {
  return (await accountOwners(tx, accountId, { activeOnly: true })).map((owner) => owner.email)
}

/** Queues `mail` to every owner; `key` makes a repeated call for the same occasion a no-op. */
export async function mailAccountOwners(
  tx: Executor,
  deps: { jobs: JobSender },
  accountId: string,
  mail: MailTemplate,
  key: string,
): Promise<void> {
  for (const to of await ownerEmails(tx, accountId)) {
    await deps.jobs.enqueue(tx, sendMail, { to, mail }, { key: `${key}:${to}` })
  }
}
