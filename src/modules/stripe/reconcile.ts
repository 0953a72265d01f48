// Reconciliation: every live Stripe subscription is compared with Stripe and repaired where they
// drifted apart (a webhook that never arrived, a change in the Stripe dashboard or portal). Each
// repair is an ordinary transition (history, audit log with `reconciled: true`, events, email)
// and is logged. Unpaid Checkouts are checked too: paid ones are linked, expired ones expire, and
// subscribes interrupted between their Stripe call and their write are finished.
import { and, asc, eq, gt, ne } from 'drizzle-orm'
import type { Deps } from '../../deps.ts'
import { systemActor } from '../audit/audit.ts'
import { finishCheckout, markSynced, sameRow } from '../subscriptions/lifecycle.ts'
import { subscriptions, trials } from '../subscriptions/tables.ts'
import { applyState, type TransitionContext } from '../subscriptions/transitions.ts'
import { idOf } from './client.ts'
import type { StripeProvider } from './provider.ts'

type ReconcileDeps = Pick<Deps, 'db' | 'config' | 'jobs' | 'clock' | 'log'> & { stripe: StripeProvider }

export interface ReconcileResult {
  checked: number
  repaired: number
  failed: number
}

export async function reconcileStripe(deps: ReconcileDeps): Promise<ReconcileResult> {
  const result: ReconcileResult = { checked: 0, repaired: 0, failed: 0 }
  let after = '00000000-0000-0000-0000-000000000000'
  for (;;) {
    const ids = await deps.db
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.provider, 'stripe'),
          ne(subscriptions.status, 'expired'),
          gt(subscriptions.id, after),
        ),
      )
      .orderBy(asc(subscriptions.id))
      .limit(100)
    if (ids.length === 0) break
    for (const { id } of ids) {
      after = id
      try {
        const repaired = await reconcileOne(deps, id)
        if (repaired !== null) result.checked++
        if (repaired) result.repaired++
      } catch (error) {
        result.failed++
        deps.log.warn({ err: error, subscription: id }, 'reconciliation could not check a subscription')
      }
    }
  }
  return result
}

/**
 * Compares one subscription with Stripe; true when it was repaired, null when it was busy or gone.
 * Stripe is read with no transaction open; the answer is applied under lock only if the row is
 * still the version that was read (else the next run looks again). A subscribe interrupted
 * between its Stripe call and its write (the row is `incomplete` without a Checkout session for
 * longer than STRIPE_INTENT_STALE_MS) is finished: the same idempotency key makes Stripe replay
 * the session it made, or make the one it never made, and it is linked.
 */
export async function reconcileOne(deps: ReconcileDeps, id: string): Promise<boolean | null> {
  const [row] = await deps.db
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.id, id), ne(subscriptions.status, 'expired')))
  if (!row) return null
  const now = deps.clock.now()
  const ctx: TransitionContext = { deps, actor: systemActor, now }
  if (row.status === 'incomplete' && !row.checkoutSessionId && !row.providerSubscriptionId) {
    if (row.createdAt.getTime() > now.getTime() - deps.config.STRIPE_INTENT_STALE_MS) return false
    await finishCheckout(deps.db, deps.stripe, ctx, row.id)
    deps.log.info({ subscription: row.id }, 'reconciliation finished an interrupted subscribe')
    return true
  }
  let stripeId = row.providerSubscriptionId
  let sessionExpired = false
  if (!stripeId && row.checkoutSessionId) {
    const session = await deps.stripe.retrieveCheckoutSession(row.checkoutSessionId)
    sessionExpired = session.status === 'expired'
    stripeId = idOf(session.subscription)
  }
  const fresh = !sessionExpired && stripeId ? await deps.stripe.retrieveSubscription(stripeId) : null
  return deps.db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(subscriptions)
      .where(eq(subscriptions.id, id))
      .for('update', { skipLocked: true })
    if (!locked || !sameRow(locked, row)) return null
    if (sessionExpired) {
      await applyState(tx, ctx, locked, { status: 'expired', endedAt: now }, { data: { reconciled: true } })
      await tx.delete(trials).where(eq(trials.subscriptionId, locked.id))
      deps.log.info({ subscription: locked.id }, 'reconciliation expired an abandoned Checkout')
      return true
    }
    if (!fresh) return false
    const state = await deps.stripe.stateOf(tx, fresh, locked)
    const repaired = await applyState(tx, ctx, locked, state, { data: { reconciled: true } })
    await markSynced(tx, locked.id)
    if (repaired === locked) return false
    deps.log.info(
      { subscription: locked.id, stripeSubscription: stripeId, from: locked.status, to: repaired.status },
      'reconciliation repaired a subscription',
    )
    return true
  })
}
