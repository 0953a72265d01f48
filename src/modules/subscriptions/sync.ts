// What a payment provider's adapter (the Stripe one) may do with subscriptions: find the
// subscription a provider object belongs to, apply what the provider says of it, and the few
// things a provider's notice triggers (a trial reminder, the owners' payment mail, finishing an
// interrupted subscribe). The adapter goes through these functions only: it never writes this
// module's tables (`subscriptions`, `subscription_events`, `trials`) nor calls `applyState` itself.
import { and, asc, eq, gt, isNull, ne, type SQL } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import type { ProviderName, ProviderState } from '../billing/provider.ts'
import { markSynced } from './lifecycle.ts'
import { type SubscriptionRow, subscriptions, trials } from './tables.ts'
import { applyState, type TransitionContext } from './transitions.ts'

export { finishCheckout, sameRow, scheduledChangeLeadMs } from './lifecycle.ts'
export { remindTrialEnding } from './reminders.ts'
export type { SubscriptionRow } from './tables.ts'
export { mailAccountOwners, type TransitionContext, type TransitionDeps } from './transitions.ts'

interface Lock {
  /** Lock the row for the rest of the transaction (a reader that only looks passes false). */
  lock: boolean
}

const first = async (query: Promise<SubscriptionRow[]>) => (await query)[0] ?? null

/** A subscription by id; `live`: null once it has expired. */
export async function findSubscription(
  executor: Executor,
  id: string,
  { live }: { live: boolean },
): Promise<SubscriptionRow | null> {
  return first(
    executor
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.id, id), live ? ne(subscriptions.status, 'expired') : undefined)),
  )
}

/** A subscription by id, locked, skipping it (null) when another transaction holds it. */
export async function lockSubscriptionIfFree(tx: Executor, id: string): Promise<SubscriptionRow | null> {
  return first(
    tx.select().from(subscriptions).where(eq(subscriptions.id, id)).for('update', { skipLocked: true }),
  )
}

/** A page of the live subscriptions billed by `provider`, by id after `after`. */
export async function listLiveSubscriptionIds(
  executor: Executor,
  provider: ProviderName,
  after: string,
  limit: number,
): Promise<string[]> {
  const rows = await executor
    .select({ id: subscriptions.id })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.provider, provider),
        ne(subscriptions.status, 'expired'),
        gt(subscriptions.id, after),
      ),
    )
    .orderBy(asc(subscriptions.id))
    .limit(limit)
  return rows.map((row) => row.id)
}

/** The one subscription matching `where`, locked for the rest of the transaction with `lock`. */
function findOne(
  executor: Executor,
  where: SQL | undefined,
  { lock }: Lock,
): Promise<SubscriptionRow | null> {
  const query = executor.select().from(subscriptions).where(where)
  return first(lock ? query.for('update') : query)
}

/** The subscription linked to the provider's subscription `providerSubscriptionId`. */
export const findByProviderSubscription = (
  executor: Executor,
  provider: ProviderName,
  providerSubscriptionId: string,
  lock: Lock,
): Promise<SubscriptionRow | null> =>
  findOne(
    executor,
    and(
      eq(subscriptions.provider, provider),
      eq(subscriptions.providerSubscriptionId, providerSubscriptionId),
    ),
    lock,
  )

/** The subscription whose Checkout is the provider's session `sessionId`. */
export const findByCheckoutSession = (
  executor: Executor,
  provider: ProviderName,
  sessionId: string,
  lock: Lock,
): Promise<SubscriptionRow | null> =>
  findOne(
    executor,
    and(eq(subscriptions.provider, provider), eq(subscriptions.checkoutSessionId, sessionId)),
    lock,
  )

/** The account's unpaid Checkout at `provider`: `incomplete`, not yet linked to a provider subscription. */
export const findAwaitingCheckout = (
  executor: Executor,
  provider: ProviderName,
  accountId: string,
  lock: Lock,
): Promise<SubscriptionRow | null> =>
  findOne(
    executor,
    and(
      eq(subscriptions.accountId, accountId),
      eq(subscriptions.provider, provider),
      eq(subscriptions.status, 'incomplete'),
      isNull(subscriptions.providerSubscriptionId),
    ),
    lock,
  )

/**
 * Applies a state read from the provider to the (locked) row, as an ordinary transition
 * (history, audit, events, mail), and records that it was synced (see `syncVersion`), changed or
 * not. Returns the row as it is now.
 */
export async function applyProviderState(
  tx: Executor,
  ctx: TransitionContext,
  row: SubscriptionRow,
  state: ProviderState,
  options: { data?: Record<string, unknown> } = {},
): Promise<SubscriptionRow> {
  const after = await applyState(tx, ctx, row, state, options)
  await markSynced(tx, row.id)
  return after
}

/**
 * An unpaid Checkout the provider gave up on: the (locked) subscription expires, and the trial it
 * claimed is free again (nothing was used of it).
 */
export async function expireCheckout(
  tx: Executor,
  ctx: TransitionContext,
  row: SubscriptionRow,
  options: { data?: Record<string, unknown> } = {},
): Promise<SubscriptionRow> {
  const after = await applyState(tx, ctx, row, { status: 'expired', endedAt: ctx.now }, options)
  await tx.delete(trials).where(eq(trials.subscriptionId, row.id))
  return after
}
