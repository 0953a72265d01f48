// The subscription rules, the same for every payment provider: one live subscription per account,
// one trial per account and owner, what each operation allows. The provider (see billing/provider)
// only says what the subscription looks like afterwards; `applyState` records every change.
import { and, asc, count, desc, eq, ne, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import type { Deps } from '../../deps.ts'
import { accountMembers } from '../accounts/tables.ts'
import { type AuditActor, systemActor } from '../audit/audit.ts'
import { users } from '../auth/tables.ts'
import { announceInvoice, recordInvoice } from '../billing/invoices.ts'
import type { BillingProvider, Charge, SubscriptionRow } from '../billing/provider.ts'
import { endProviderSubscription } from '../jobs/definitions/end-provider-subscription.ts'
import { getPlanById, getSubscribablePlan } from '../plans/plans.ts'
import { grantsAccess } from './access.ts'
import type { ChangePlanBody, CheckoutStarted, Subscription } from './schemas.ts'
import { subscriptions, trials } from './tables.ts'
import { applyState, present, recordTransition, type TransitionContext } from './transitions.ts'

export type LifecycleDeps = Pick<Deps, 'config' | 'jobs' | 'clock' | 'billing'>

export interface Actor {
  accountId: string
  userId: string
  now: Date
}

const contextOf = (deps: LifecycleDeps, actor: AuditActor, now: Date): TransitionContext => ({
  deps,
  actor,
  now,
})
const userContext = (deps: LifecycleDeps, actor: Actor) =>
  contextOf(deps, { type: 'user', userId: actor.userId }, actor.now)

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
 * Subscriptions whose access has lapsed, as SQL over `subscriptions`: canceled ones past their
 * period, past_due ones past their grace, and manual ones the renewal job did not renew. Stripe's
 * own states are not decided here: an active one past its period end is being renewed by Stripe,
 * and an unpaid Checkout may still be paid until Stripe says it expired (webhook, or
 * reconciliation asking for the session) — expiring it locally could lose a payment.
 */
export function lapsedSql(now: Date) {
  const at = sql`${now.toISOString()}::timestamptz`
  return sql`(
    (${subscriptions.status} = 'canceled' and ${subscriptions.currentPeriodEnd} <= ${at})
    or (${subscriptions.status} = 'past_due' and coalesce(${subscriptions.graceUntil}, ${subscriptions.currentPeriodEnd}) <= ${at})
    or (${subscriptions.provider} = 'manual' and ${subscriptions.status} in ('active', 'trialing') and ${subscriptions.currentPeriodEnd} <= ${at})
  )`
}

/** Marks lapsed subscriptions `expired` (of one account, or up to `limit` of all); returns how many. */
export async function expireLapsed(
  tx: Executor,
  deps: LifecycleDeps,
  scope: { accountId: string } | { limit: number },
  now: Date,
): Promise<number> {
  const rows = await tx
    .select()
    .from(subscriptions)
    .where(
      and(
        'accountId' in scope ? eq(subscriptions.accountId, scope.accountId) : undefined,
        ne(subscriptions.status, 'expired'),
        lapsedSql(now),
      ),
    )
    .orderBy(asc(subscriptions.currentPeriodEnd))
    .limit('limit' in scope ? scope.limit : 10)
    .for('update', { skipLocked: true })
  const ctx = contextOf(deps, systemActor, now)
  for (const row of rows) {
    const accessEnd =
      row.status === 'past_due' ? (row.graceUntil ?? row.currentPeriodEnd) : row.currentPeriodEnd
    await applyState(tx, ctx, row, {
      status: 'expired',
      endedAt: row.endedAt ?? (accessEnd < now ? accessEnd : now),
    })
    if (row.status === 'incomplete') {
      await tx.delete(trials).where(eq(trials.subscriptionId, row.id))
    }
    // plangate ended the access (grace over): Stripe stops charging too.
    if (row.provider === 'stripe' && row.providerSubscriptionId && row.status === 'past_due') {
      await deps.jobs.enqueue(
        tx,
        endProviderSubscription,
        { provider: 'stripe', subscription_id: row.providerSubscriptionId },
        { key: row.providerSubscriptionId },
      )
    }
  }
  return rows.length
}

/** The live subscription, locked for the rest of the transaction, or 404. */
export async function lockLive(tx: Executor, accountId: string): Promise<SubscriptionRow> {
  const [row] = await tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'expired')))
    .for('update')
  if (!row) throw notFound('Subscription')
  return row
}

async function accountOwner(tx: Executor, accountId: string) {
  const [owner] = await tx
    .select({ id: users.id, email: users.email })
    .from(accountMembers)
    .innerJoin(users, eq(users.id, accountMembers.userId))
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.role, 'owner')))
    .orderBy(asc(accountMembers.createdAt))
    .limit(1)
  return owner ?? null
}

/**
 * Claims the account's one trial (and its owner's): the primary key and the unique owner make a
 * second claim impossible, also from concurrent requests or a new account of the same owner.
 */
async function claimTrial(
  tx: Executor,
  accountId: string,
  ownerId: string | null,
  now: Date,
): Promise<boolean> {
  if (!ownerId) return false
  const claimed = await tx
    .insert(trials)
    .values({ accountId, ownerUserId: ownerId, createdAt: now })
    .onConflictDoNothing()
    .returning({ accountId: trials.accountId })
  return claimed.length > 0
}

/** Records a manual charge as an open invoice, and announces it. */
export async function recordCharge(
  tx: Executor,
  ctx: TransitionContext,
  row: SubscriptionRow,
  charge: Charge,
) {
  const now = ctx.now
  const invoice = await recordInvoice(tx, {
    accountId: row.accountId,
    subscriptionId: row.id,
    provider: row.provider,
    amountCents: charge.amountCents,
    currency: charge.currency,
    status: 'open',
    description: charge.description,
    periodStart: charge.periodStart,
    periodEnd: charge.periodEnd,
    now,
  })
  if (invoice) await announceInvoice(tx, ctx.deps, ctx, invoice, 'created')
}

export type SubscribeOutcome = { status: 201; body: Subscription } | { status: 202; body: CheckoutStarted }

/**
 * Subscribes an account to a plan. Manual: active (or trialing) at once, with an open invoice.
 * Stripe: `incomplete` with a Checkout session to pay; the webhook makes it live. The partial
 * unique index admits one live subscription per account: of concurrent subscribes one wins and
 * the rest get 409. A subscribe repeated while its Checkout is open returns the same session.
 */
export async function subscribe(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  planCode: string,
): Promise<SubscribeOutcome> {
  const { accountId, now } = actor
  const plan = await getSubscribablePlan(tx, planCode)
  await expireLapsed(tx, deps, { accountId }, now)
  const [live] = await tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'expired')))
    .for('update')
  if (live?.status === 'incomplete') {
    if (
      live.planId === plan.id &&
      live.checkoutUrl &&
      live.checkoutExpiresAt &&
      live.checkoutExpiresAt > now
    ) {
      return { status: 202, body: await checkoutStarted(tx, live, now) }
    }
    // A different plan (or a stale session): the unpaid Checkout is given up for a new one.
    await deps.billing.of(live.provider).abandon(tx, live)
    await applyState(tx, userContext(deps, actor), live, { status: 'expired', endedAt: now })
    await tx.delete(trials).where(eq(trials.subscriptionId, live.id))
  } else if (live) {
    throw new AppError('conflict', 'The account already has a live subscription')
  }

  const provider: BillingProvider = deps.billing.default
  const [{ previous = 0 } = {}] = await tx
    .select({ previous: count() })
    .from(subscriptions)
    .where(eq(subscriptions.accountId, accountId))
  const owner = await accountOwner(tx, accountId)
  const trialDays =
    plan.trialDays > 0 && (await claimTrial(tx, accountId, owner?.id ?? null, now)) ? plan.trialDays : 0
  const initial = provider.initialState(plan, trialDays, now)
  const [row] = await tx
    .insert(subscriptions)
    .values({
      id: newId(),
      accountId,
      planId: plan.id,
      provider: provider.name,
      ...initial,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (!row) throw new AppError('conflict', 'The account already has a live subscription')
  if (trialDays > 0)
    await tx.update(trials).set({ subscriptionId: row.id }).where(eq(trials.accountId, accountId))

  const started = await provider.start(tx, {
    row,
    plan,
    trialDays,
    sequence: previous,
    ownerEmail: owner?.email ?? null,
    now,
  })
  let current = row
  if (started.checkout) {
    const [withCheckout] = await tx
      .update(subscriptions)
      .set({
        checkoutSessionId: started.checkout.sessionId,
        checkoutUrl: started.checkout.url,
        checkoutExpiresAt: started.checkout.expiresAt,
      })
      .where(eq(subscriptions.id, row.id))
      .returning()
    current = withCheckout ?? row
  }
  await recordTransition(tx, userContext(deps, actor), null, current, 'created', {
    ...(trialDays > 0 && { trial_days: trialDays }),
  })
  if (started.charge) await recordCharge(tx, userContext(deps, actor), current, started.charge)
  if (started.checkout) return { status: 202, body: await checkoutStarted(tx, current, now) }
  return { status: 201, body: await present(tx, current, now) }
}

async function checkoutStarted(tx: Executor, row: SubscriptionRow, now: Date): Promise<CheckoutStarted> {
  return {
    checkout_url: row.checkoutUrl ?? '',
    checkout_expires_at: (row.checkoutExpiresAt ?? now).toISOString(),
    subscription: await present(tx, row, now),
  }
}

/** The live subscription that grants access, locked; 404 when there is none. */
async function lockWithAccess(tx: Executor, accountId: string, now: Date): Promise<SubscriptionRow> {
  const current = await lockLive(tx, accountId)
  if (current.status === 'incomplete') {
    throw new AppError('conflict', 'The subscription is waiting for its Checkout to be paid')
  }
  if (!grantsAccess(current, now)) throw notFound('Subscription')
  return current
}

/**
 * Changes plan now (an upgrade is charged pro rata and, with Stripe, granted only once paid; a
 * downgrade is not refunded) or schedules it for period end. Nothing is deleted on a downgrade:
 * the account may be over its new limits, and new creations are refused until it is back under.
 */
export async function changePlan(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  input: ChangePlanBody,
): Promise<Subscription> {
  const { now } = actor
  const current = await lockWithAccess(tx, actor.accountId, now)
  if (current.status === 'canceled' || current.cancelAtPeriodEnd) {
    throw new AppError('conflict', 'The subscription is canceled; resume it first')
  }
  const provider = deps.billing.of(current.provider)
  const target = await getSubscribablePlan(tx, input.plan)
  const from = await getPlanById(tx, current.planId)
  const ctx = userContext(deps, actor)
  if (target.id === from.id) {
    if (!current.pendingPlanId)
      throw new AppError('conflict', `The subscription is already on ${target.code}`)
    // Choosing the current plan again cancels a scheduled change.
    const state = await provider.unscheduleChange(tx, current, from, now)
    return present(tx, await applyState(tx, ctx, current, state, { type: 'scheduled_change_canceled' }), now)
  }
  // A change now replaces any change scheduled for period end (also for the same plan: it is then paid now).
  const row = input.when === 'now' ? { ...current, pendingPlanId: null } : current
  const outcome = await provider.changePlan(tx, { row, from, to: target, when: input.when, now })
  const after = await applyState(tx, ctx, current, outcome.state, {
    ...(outcome.charge && { data: { amount_cents: outcome.charge.amountCents } }),
    ...(input.when === 'period_end' && { data: { pending_plan: target.code } }),
  })
  if (outcome.awaitingPayment) {
    // Touching the row makes a retried upgrade (after the card is fixed) a new Stripe request.
    const [touched] = await tx
      .update(subscriptions)
      .set({ updatedAt: now })
      .where(eq(subscriptions.id, after.id))
      .returning()
    await recordTransition(tx, ctx, current, touched ?? after, 'upgrade_awaiting_payment', {
      plan: target.code,
    })
    return present(tx, touched ?? after, now)
  }
  if (outcome.charge) await recordCharge(tx, ctx, after, outcome.charge)
  return present(tx, after, now)
}

/** Cancels at period end (access until then, resumable) or now (access ends at once). */
export async function cancel(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  atPeriodEnd: boolean,
): Promise<Subscription> {
  const { now } = actor
  const current = await lockLive(tx, actor.accountId)
  if (current.status !== 'incomplete' && !grantsAccess(current, now)) throw notFound('Subscription')
  if ((current.status === 'canceled' || current.cancelAtPeriodEnd) && (atPeriodEnd || current.endedAt)) {
    throw new AppError('conflict', 'The subscription is already canceled')
  }
  const ctx = userContext(deps, actor)
  if (current.status === 'incomplete') {
    // Nothing was paid: the Checkout is given up and the subscription ends.
    await deps.billing.of(current.provider).abandon(tx, current)
    await tx.delete(trials).where(eq(trials.subscriptionId, current.id))
    return present(tx, await applyState(tx, ctx, current, { status: 'expired', endedAt: now }), now)
  }
  const state = await deps.billing.of(current.provider).cancel(tx, current, atPeriodEnd, now)
  return present(tx, await applyState(tx, ctx, current, state), now)
}

/** Undoes a cancel-at-period-end before the period is over. */
export async function resume(tx: Executor, deps: LifecycleDeps, actor: Actor): Promise<Subscription> {
  const { now } = actor
  const current = await lockLive(tx, actor.accountId)
  // A past_due subscription set to end stays past_due: resuming it does not pay what it owes.
  if (
    !['canceled', 'past_due'].includes(current.status) ||
    !current.cancelAtPeriodEnd ||
    !grantsAccess(current, now)
  ) {
    throw new AppError(
      'conflict',
      'Only a subscription canceled at period end can be resumed before its period ends',
    )
  }
  const state = await deps.billing.of(current.provider).resume(tx, current, now)
  return present(tx, await applyState(tx, userContext(deps, actor), current, state), now)
}
export { present, toSubscription } from './transitions.ts'
