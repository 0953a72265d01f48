// The subscription rules, the same for every payment provider: one live subscription per account,
// one trial per account and owner, what each operation allows. The provider (see billing/provider)
// only says what the subscription looks like afterwards; `applyState` records every change.
import { and, asc, desc, eq, ne, or, sql } from 'drizzle-orm'
import type { Db, Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import type { ProgressRecorder } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { type AuditActor, systemActor } from '../audit/audit.ts'
import { announceInvoice, recordInvoice } from '../billing/invoices.ts'
import { endProviderSubscription } from '../billing/jobs.ts'
import type { BillingProvider, ChangeOutcome, Charge, ProviderState, Providers } from '../billing/provider.ts'
import { accountOwners, type OwnerContact } from '../invitations/owners.ts'
import { getPlanById, getSubscribablePlan, type PlanRow, subscriberPrice } from '../plans/plans.ts'
import { grantsAccess } from './access.ts'
import type { ChangePlanBody, CheckoutStarted, Subscription } from './schemas.ts'
import { type SubscriptionRow, subscriptions, trials } from './tables.ts'
import {
  applyState,
  present,
  recordTransition,
  type TransitionContext,
  type TransitionDeps,
} from './transitions.ts'

/** What the subscription rules need: what transitions need, and the payment providers. */
export interface LifecycleDeps extends TransitionDeps {
  billing: Providers
}

/**
 * How long before the period ends a renewal is prepared: manual subscriptions are renewed, and
 * Stripe ones get a change scheduled for period end. The hourly sweep runs at least once within it.
 */
export const scheduledChangeLeadMs = 2 * 3_600_000

/** Who changes an account's subscription, and when: a member, or an API key. */
export interface Actor {
  accountId: string
  who: AuditActor
  now: Date
}

const contextOf = (deps: LifecycleDeps, actor: AuditActor, now: Date): TransitionContext => ({
  deps,
  actor,
  now,
})
const userContext = (deps: LifecycleDeps, actor: Actor) => contextOf(deps, actor.who, actor.now)

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

/** The account's first owner, or the address standing in for one (see invitations/owners.ts). */
async function accountOwner(tx: Executor, accountId: string): Promise<OwnerContact | null> {
  const [owner] = await accountOwners(tx, accountId)
  return owner ?? null
}

/**
 * Claims the account's one trial (and its owner's): the primary key and the unique owner (by user
 * and by address, so an invited owner who has not accepted yet counts too) make a second claim
 * impossible, also from concurrent requests or a new account of the same owner. An account with no
 * owner at all (made with a site key, no `owner_email`) has the one trial of the account.
 */
async function claimTrial(
  tx: Executor,
  accountId: string,
  owner: OwnerContact | null,
  now: Date,
): Promise<boolean> {
  const claimed = await tx
    .insert(trials)
    .values({
      accountId,
      ownerUserId: owner?.userId ?? null,
      ownerEmail: owner ? owner.email.toLowerCase() : null,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning({ accountId: trials.accountId })
  return claimed.length > 0
}

/**
 * Whether a subscription started now would get the plan's trial: neither the account nor its
 * owner (by user or by address) has had one. Read only; `claimTrial` decides under concurrency.
 */
export async function trialAvailable(tx: Executor, accountId: string): Promise<boolean> {
  const owner = await accountOwner(tx, accountId)
  const conditions = [eq(trials.accountId, accountId)]
  if (owner?.userId) conditions.push(eq(trials.ownerUserId, owner.userId))
  if (owner) conditions.push(eq(trials.ownerEmail, owner.email.toLowerCase()))
  const [taken] = await tx
    .select({ accountId: trials.accountId })
    .from(trials)
    .where(or(...conditions))
    .limit(1)
  return !taken
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

/** A provider that calls out over the network: its calls are made outside any transaction. */
export const callsOut = (provider: string) => provider !== 'manual'

/**
 * Records that a state read from the provider was applied to the row, changed or not (see
 * `syncVersion`): whoever read the provider before this is applied against an older version.
 */
export async function markSynced(tx: Executor, subscriptionId: string): Promise<void> {
  await tx
    .update(subscriptions)
    .set({ syncVersion: sql`${subscriptions.syncVersion} + 1` })
    .where(eq(subscriptions.id, subscriptionId))
}

/** Two reads of a row are the same version: nothing was applied to it in between. */
export const sameRow = (a: SubscriptionRow, b: SubscriptionRow) => JSON.stringify(a) === JSON.stringify(b)

const changingMeanwhile = () =>
  new AppError('conflict', 'The subscription is changing at the payment provider; try again in a moment')

/**
 * Subscribes an account to a plan. Manual: active (or trialing) at once, with an open invoice, in
 * one transaction. Stripe: `incomplete` with a Checkout session to pay; the webhook makes it live.
 * The partial unique index admits one live subscription per account: of concurrent subscribes one
 * wins and the rest get 409 (or the same Checkout). A subscribe repeated while its Checkout is open
 * returns the same session.
 *
 * With Stripe it runs in three steps, so no connection is held while Stripe answers: (1) a short
 * transaction records the intent, the `incomplete` row; (2) the Checkout session is created
 * outside any transaction, with an idempotency key derived from that row; (3) a second short
 * transaction links the session to the row if it is still waiting for it. A retry (the client's,
 * or the reconciliation job after a crash) finds the row without a session and resumes at (2):
 * Stripe replays the same session. `db` must then be the database itself, not a transaction.
 */
export async function subscribe(
  db: Db,
  deps: LifecycleDeps,
  actor: Actor,
  planCode: string,
  progress: ProgressRecorder = async () => {},
): Promise<SubscribeOutcome> {
  const provider = deps.billing.default
  if (!callsOut(provider.name)) return db.transaction((tx) => subscribeLocally(tx, deps, actor, planCode))
  provider.assertAvailable()
  for (let attempt = 0; attempt < 3; attempt++) {
    const step = await db.transaction((tx) => recordSubscribeIntent(tx, deps, actor, planCode))
    if (step.kind === 'done') return step.outcome
    if (step.kind === 'replace') {
      // The unpaid Checkout is given up at Stripe first (refused if it was just paid), then here.
      await deps.billing.of(step.row.provider).abandon(db, step.row)
      await db.transaction(async (tx) => {
        const [locked] = await tx
          .select()
          .from(subscriptions)
          .where(eq(subscriptions.id, step.row.id))
          .for('update')
        if (!locked || !sameRow(locked, step.row)) return
        await applyState(tx, userContext(deps, actor), locked, { status: 'expired', endedAt: actor.now })
        await tx.delete(trials).where(eq(trials.subscriptionId, locked.id))
      })
      continue
    }
    await progress('provider_called', step.row.id)
    return finishCheckout(db, provider, userContext(deps, actor), step.row.id, step.intent)
  }
  throw changingMeanwhile()
}

type SubscribeStep =
  | { kind: 'done'; outcome: SubscribeOutcome }
  | { kind: 'replace'; row: SubscriptionRow }
  | { kind: 'call'; row: SubscriptionRow; intent: CheckoutIntent }

/**
 * What every subscribe starts from: the plan asked for, and the account's live subscription locked
 * (one that lapsed is expired first, so it does not count as live).
 */
async function planAndLiveSubscription(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  planCode: string,
): Promise<{ plan: Awaited<ReturnType<typeof getSubscribablePlan>>; live: SubscriptionRow | undefined }> {
  const { accountId, now } = actor
  const plan = await getSubscribablePlan(tx, planCode)
  await expireLapsed(tx, deps, { accountId }, now)
  const [live] = await tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'expired')))
    .for('update')
  return { plan, live }
}

/** Step 1 of a Stripe subscribe: the checks, and the `incomplete` row as the recorded intent. */
async function recordSubscribeIntent(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  planCode: string,
): Promise<SubscribeStep> {
  const { now } = actor
  const { plan, live } = await planAndLiveSubscription(tx, deps, actor, planCode)
  if (live?.status === 'incomplete') {
    if (live.planId === plan.id && !live.checkoutSessionId) {
      // An earlier attempt recorded the intent and did not get (or keep) Stripe's answer: resume it.
      const intent = await checkoutIntentOf(tx, live.id)
      if (intent) return { kind: 'call', row: live, intent }
    }
    if (
      live.planId === plan.id &&
      live.checkoutUrl &&
      live.checkoutExpiresAt &&
      live.checkoutExpiresAt > now
    ) {
      return { kind: 'done', outcome: { status: 202, body: await checkoutStarted(tx, live, now) } }
    }
    // A different plan (or a stale session): the unpaid Checkout is given up for a new one.
    return { kind: 'replace', row: live }
  }
  if (live) throw new AppError('conflict', 'The account already has a live subscription')
  const { row, trialDays, owner } = await insertSubscription(tx, actor, plan, deps.billing.default)
  return { kind: 'call', row, intent: { row, plan, trialDays, ownerEmail: owner?.email ?? null } }
}

/** Inserts the new subscription (the partial unique index refuses a second live one) and claims its trial. */
async function insertSubscription(tx: Executor, actor: Actor, plan: PlanRow, provider: BillingProvider) {
  const { accountId, now } = actor
  const owner = await accountOwner(tx, accountId)
  const trialDays = plan.trialDays > 0 && (await claimTrial(tx, accountId, owner, now)) ? plan.trialDays : 0
  const initial = provider.initialState(plan, trialDays, now)
  const [row] = await tx
    .insert(subscriptions)
    .values({
      id: newId(),
      accountId,
      planId: plan.id,
      provider: provider.name,
      ...subscriberPrice(plan),
      ...initial,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (!row) throw new AppError('conflict', 'The account already has a live subscription')
  if (trialDays > 0)
    await tx.update(trials).set({ subscriptionId: row.id }).where(eq(trials.accountId, accountId))
  return { row, trialDays, owner }
}

interface CheckoutIntent {
  row: SubscriptionRow
  plan: PlanRow
  trialDays: number
  ownerEmail: string | null
}

/** What the Checkout of a recorded `incomplete` subscription is made from; null when it is no longer waiting. */
async function checkoutIntentOf(tx: Executor, subscriptionId: string): Promise<CheckoutIntent | null> {
  const [row] = await tx.select().from(subscriptions).where(eq(subscriptions.id, subscriptionId))
  if (row?.status !== 'incomplete') return null
  const plan = await getPlanById(tx, row.planId)
  const owner = await accountOwner(tx, row.accountId)
  return { row, plan, trialDays: await trialDaysOf(tx, row, plan), ownerEmail: owner?.email ?? null }
}

/** The trial days a recorded subscription was granted (its claimed trial), for resuming it. */
async function trialDaysOf(tx: Executor, row: SubscriptionRow, plan: PlanRow): Promise<number> {
  const [trial] = await tx
    .select({ accountId: trials.accountId })
    .from(trials)
    .where(eq(trials.subscriptionId, row.id))
  return trial ? plan.trialDays : 0
}

/**
 * Steps 2 and 3 of a Stripe subscribe, for a recorded `incomplete` row without its session: the
 * Checkout session is created (or replayed) outside any transaction, then linked under lock.
 * Also how the reconciliation job finishes a subscribe interrupted half-way.
 */
export async function finishCheckout(
  db: Db,
  provider: BillingProvider,
  ctx: TransitionContext,
  subscriptionId: string,
  recorded?: CheckoutIntent,
): Promise<SubscribeOutcome> {
  const now = ctx.now
  const intent = recorded ?? (await db.transaction((tx) => checkoutIntentOf(tx, subscriptionId)))
  if (!intent) throw new AppError('conflict', 'The Checkout was given up meanwhile; subscribe again')
  const started = await provider.start(db, { ...intent, now })
  const checkout = started.checkout
  if (!checkout) throw new Error(`provider ${provider.name} started no Checkout`)
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.id, subscriptionId))
      .for('update')
    if (row?.status !== 'incomplete') {
      throw new AppError('conflict', 'The Checkout was given up meanwhile; subscribe again')
    }
    if (row.checkoutSessionId) return { status: 202, body: await checkoutStarted(tx, row, now) }
    const [linked] = await tx
      .update(subscriptions)
      .set({
        checkoutSessionId: checkout.sessionId,
        checkoutUrl: checkout.url,
        checkoutExpiresAt: checkout.expiresAt,
      })
      .where(eq(subscriptions.id, row.id))
      .returning()
    const current = linked ?? row
    await recordTransition(tx, ctx, null, current, 'created', {
      ...(intent.trialDays > 0 && { trial_days: intent.trialDays }),
    })
    return { status: 202, body: await checkoutStarted(tx, current, now) }
  })
}

/** The manual provider's subscribe: nothing leaves the process, so it is one transaction. */
async function subscribeLocally(
  tx: Executor,
  deps: LifecycleDeps,
  actor: Actor,
  planCode: string,
): Promise<SubscribeOutcome> {
  const { now } = actor
  const { plan, live } = await planAndLiveSubscription(tx, deps, actor, planCode)
  if (live?.status === 'incomplete') {
    // Left by Stripe before it was switched off: given up for the new one.
    await applyState(tx, userContext(deps, actor), live, { status: 'expired', endedAt: now })
    await tx.delete(trials).where(eq(trials.subscriptionId, live.id))
  } else if (live) {
    throw new AppError('conflict', 'The account already has a live subscription')
  }
  const provider = deps.billing.default
  const { row, trialDays, owner } = await insertSubscription(tx, actor, plan, provider)
  const started = await provider.start(tx, { row, plan, trialDays, ownerEmail: owner?.email ?? null, now })
  await recordTransition(tx, userContext(deps, actor), null, row, 'created', {
    ...(trialDays > 0 && { trial_days: trialDays }),
  })
  if (started.charge) await recordCharge(tx, userContext(deps, actor), row, started.charge)
  return { status: 201, body: await present(tx, row, now) }
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
 * One operation on a live subscription in three steps: `check` under lock (refusals are thrown
 * there), `call` the provider outside any transaction, then `apply` its answer under lock if the
 * row is still the version that was checked. If something else was applied meanwhile (a webhook
 * landed), the provider's current state is read and applied instead: it includes this change.
 * The manual provider computes locally, so its three steps share one transaction.
 */
async function operate<A>(
  db: Db,
  deps: LifecycleDeps,
  actor: Actor,
  op: {
    check(tx: Executor): Promise<SubscriptionRow>
    call(executor: Executor, row: SubscriptionRow): Promise<A>
    apply(tx: Executor, row: SubscriptionRow, answer: A): Promise<SubscriptionRow>
  },
): Promise<Subscription> {
  const { now } = actor
  // Answered at once while Stripe is known to be unavailable (a manual subscription never asks it).
  const checked = await db.transaction(async (tx) => {
    const row = await op.check(tx)
    if (callsOut(row.provider)) deps.billing.of(row.provider).assertAvailable()
    if (callsOut(row.provider)) return { row, done: null }
    return { row, done: await present(tx, await op.apply(tx, row, await op.call(tx, row)), now) }
  })
  if (checked.done) return checked.done
  let expected = checked.row
  const answer = await op.call(db, expected)
  const first = await db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.id, expected.id))
      .for('update')
    if (!locked) throw notFound('Subscription')
    if (!sameRow(locked, expected)) return { changed: locked, done: null }
    const after = await op.apply(tx, locked, answer)
    if (callsOut(locked.provider)) await markSynced(tx, locked.id)
    return { changed: locked, done: await present(tx, after, now) }
  })
  if (first.done) return first.done
  expected = first.changed
  // Something was applied meanwhile (a webhook): the provider's current state includes this change.
  const provider = deps.billing.of(expected.provider)
  for (let attempt = 0; attempt < 3 && expected.providerSubscriptionId; attempt++) {
    const snapshot = expected
    const state = await provider.currentState(db, snapshot)
    const synced = await db.transaction(async (tx) => {
      const [locked] = await tx
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.id, snapshot.id))
        .for('update')
      if (!locked) throw notFound('Subscription')
      if (!sameRow(locked, snapshot)) return { changed: locked, done: null }
      const after = await applyState(tx, userContext(deps, actor), locked, state)
      await markSynced(tx, locked.id)
      return { changed: locked, done: await present(tx, after, now) }
    })
    if (synced.done) return synced.done
    expected = synced.changed
  }
  throw changingMeanwhile()
}

/**
 * Changes plan now (an upgrade is charged pro rata and, with Stripe, granted only once paid; a
 * downgrade is not refunded) or schedules it for period end. Nothing is deleted on a downgrade:
 * the account may be over its new limits, and new creations are refused until it is back under.
 */
export async function changePlan(
  db: Db,
  deps: LifecycleDeps,
  actor: Actor,
  input: ChangePlanBody,
): Promise<Subscription> {
  const { now } = actor
  const ctx = userContext(deps, actor)
  let plans: { from: PlanRow; target: PlanRow } | undefined
  return operate<ChangeOutcome & { unscheduled?: boolean }>(db, deps, actor, {
    async check(tx) {
      const current = await lockWithAccess(tx, actor.accountId, now)
      if (current.status === 'canceled' || current.cancelAtPeriodEnd) {
        throw new AppError('conflict', 'The subscription is canceled; resume it first')
      }
      const target = await getSubscribablePlan(tx, input.plan)
      const from = await getPlanById(tx, current.planId)
      if (target.id === from.id && !current.pendingPlanId)
        throw new AppError('conflict', `The subscription is already on ${target.code}`)
      plans = { from, target }
      return current
    },
    async call(executor, current) {
      if (!plans) throw new Error('changePlan: check did not run')
      const provider = deps.billing.of(current.provider)
      if (plans.target.id === plans.from.id) {
        // Choosing the current plan again cancels a scheduled change.
        return {
          state: await provider.unscheduleChange(executor, current, plans.from, now),
          unscheduled: true,
        }
      }
      // A change now replaces any change scheduled for period end (also for the same plan: it is then paid now).
      const row = input.when === 'now' ? { ...current, pendingPlanId: null } : current
      return provider.changePlan(executor, { row, from: plans.from, to: plans.target, when: input.when, now })
    },
    async apply(tx, current, outcome) {
      if (!plans) throw new Error('changePlan: check did not run')
      const { target } = plans
      if (outcome.unscheduled) {
        return applyState(tx, ctx, current, outcome.state, { type: 'scheduled_change_canceled' })
      }
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
        return touched ?? after
      }
      if (outcome.charge) await recordCharge(tx, ctx, after, outcome.charge)
      return after
    },
  })
}

/** Cancels at period end (access until then, resumable) or now (access ends at once). */
export async function cancel(
  db: Db,
  deps: LifecycleDeps,
  actor: Actor,
  atPeriodEnd: boolean,
): Promise<Subscription> {
  const { now } = actor
  const ctx = userContext(deps, actor)
  return operate<ProviderState | null>(db, deps, actor, {
    async check(tx) {
      const current = await lockLive(tx, actor.accountId)
      if (current.status !== 'incomplete' && !grantsAccess(current, now)) throw notFound('Subscription')
      if ((current.status === 'canceled' || current.cancelAtPeriodEnd) && (atPeriodEnd || current.endedAt)) {
        throw new AppError('conflict', 'The subscription is already canceled')
      }
      return current
    },
    async call(executor, current) {
      const provider = deps.billing.of(current.provider)
      if (current.status !== 'incomplete') return provider.cancel(executor, current, atPeriodEnd, now)
      // Nothing was paid: the Checkout is given up and the subscription ends.
      await provider.abandon(executor, current)
      return null
    },
    async apply(tx, current, state) {
      if (state) return applyState(tx, ctx, current, state)
      await tx.delete(trials).where(eq(trials.subscriptionId, current.id))
      return applyState(tx, ctx, current, { status: 'expired', endedAt: now })
    },
  })
}

/** Undoes a cancel-at-period-end before the period is over. */
export async function resume(db: Db, deps: LifecycleDeps, actor: Actor): Promise<Subscription> {
  const { now } = actor
  return operate<ProviderState>(db, deps, actor, {
    async check(tx) {
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
      return current
    },
    call: (executor, current) => deps.billing.of(current.provider).resume(executor, current, now),
    apply: (tx, current, state) => applyState(tx, userContext(deps, actor), current, state),
  })
}
export { present, toSubscription } from './transitions.ts'
