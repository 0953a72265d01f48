// Reconciliation: every live Stripe subscription is compared with Stripe and repaired where they
// drifted apart (a webhook that never arrived, a change in the Stripe dashboard or portal). Each
// repair is an ordinary transition (history, audit log with `reconciled: true`, events, email)
// and is logged. Unpaid Checkouts are checked too: paid ones are linked, expired ones expire.
import { and, asc, eq, gt, ne } from 'drizzle-orm'
import type { Deps } from '../../../deps.ts'
import { systemActor } from '../../audit/audit.ts'
import { subscriptions, trials } from '../../subscriptions/tables.ts'
import { applyState, type TransitionContext } from '../../subscriptions/transitions.ts'
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

/** Compares one subscription with Stripe; true when it was repaired, null when it was busy or gone. */
export async function reconcileOne(deps: ReconcileDeps, id: string): Promise<boolean | null> {
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.id, id), ne(subscriptions.status, 'expired')))
      .for('update', { skipLocked: true })
    if (!row) return null
    const now = deps.clock.now()
    const ctx: TransitionContext = { deps, actor: systemActor, now }
    let stripeId = row.providerSubscriptionId
    if (!stripeId && row.checkoutSessionId) {
      const session = await deps.stripe.retrieveCheckoutSession(row.checkoutSessionId)
      if (session.status === 'expired') {
        await applyState(tx, ctx, row, { status: 'expired', endedAt: now }, { data: { reconciled: true } })
        await tx.delete(trials).where(eq(trials.subscriptionId, row.id))
        deps.log.info({ subscription: row.id }, 'reconciliation expired an abandoned Checkout')
        return true
      }
      stripeId =
        typeof session.subscription === 'string' ? session.subscription : (session.subscription?.id ?? null)
    }
    if (!stripeId) return false
    const fresh = await deps.stripe.retrieveSubscription(stripeId)
    const state = await deps.stripe.stateOf(tx, fresh, row)
    const repaired = await applyState(tx, ctx, row, state, { data: { reconciled: true } })
    if (repaired === row) return false
    deps.log.info(
      { subscription: row.id, stripeSubscription: stripeId, from: row.status, to: repaired.status },
      'reconciliation repaired a subscription',
    )
    return true
  })
}
