// Reconciliation: every live Stripe subscription is compared with Stripe and repaired where they
// drifted apart (a webhook that never arrived, a change in the Stripe dashboard or portal). Each
// repair is an ordinary transition (history, audit log with `reconciled: true`, events, email)
// and is logged. Unpaid Checkouts are checked too: paid ones are linked, expired ones expire, and
// subscribes interrupted between their Stripe call and their write are finished.
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import type { Db } from '../../core/db.ts'
import { systemActor } from '../audit/audit.ts'
import {
  applyProviderState,
  expireCheckout,
  findSubscription,
  finishCheckout,
  listLiveSubscriptionIds,
  lockSubscriptionIfFree,
  sameRow,
  type TransitionContext,
  type TransitionDeps,
} from '../subscriptions/sync.ts'
import { idOf } from './client.ts'
import type { StripeProvider } from './provider.ts'

/** What reconciliation needs: the database, the transition context, and the background Stripe provider. */
export interface ReconcileDeps extends TransitionDeps {
  db: Db
  config: TransitionDeps['config'] & Pick<Config, 'STRIPE_INTENT_STALE_MS'>
  log: Logger
  stripe: StripeProvider
}

export interface ReconcileResult {
  checked: number
  repaired: number
  failed: number
}

export async function reconcileStripe(deps: ReconcileDeps): Promise<ReconcileResult> {
  const result: ReconcileResult = { checked: 0, repaired: 0, failed: 0 }
  let after = '00000000-0000-0000-0000-000000000000'
  for (;;) {
    const ids = await listLiveSubscriptionIds(deps.db, 'stripe', after, 100)
    if (ids.length === 0) break
    for (const id of ids) {
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
  const row = await findSubscription(deps.db, id, { live: true })
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
    const locked = await lockSubscriptionIfFree(tx, id)
    if (!locked || !sameRow(locked, row)) return null
    if (sessionExpired) {
      await expireCheckout(tx, ctx, locked, { data: { reconciled: true } })
      deps.log.info({ subscription: locked.id }, 'reconciliation expired an abandoned Checkout')
      return true
    }
    if (!fresh) return false
    const state = await deps.stripe.stateOf(tx, fresh, locked)
    const repaired = await applyProviderState(tx, ctx, locked, state, { data: { reconciled: true } })
    if (repaired === locked) return false
    deps.log.info(
      { subscription: locked.id, stripeSubscription: stripeId, from: locked.status, to: repaired.status },
      'reconciliation repaired a subscription',
    )
    return true
  })
}
