// Payments recorded by an operator for the manual provider: an open invoice is marked paid (a
// past_due subscription recovers) or failed (the subscription goes past_due and its grace period
// starts). The invoice is billing's ledger; what it does to the subscription is decided here.
// Stripe invoices are Stripe's to settle.
import { eq } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { userActor } from '../audit/audit.ts'
import { hasFailedInvoice, lockManualInvoice, settleInvoice, toInvoice } from '../billing/invoices.ts'
import type { Invoice } from '../billing/schemas.ts'
import { getPlanById } from '../plans/plans.ts'
import { subscriptions } from './tables.ts'
import { applyState, mailAccountOwners, type TransitionDeps } from './transitions.ts'

/**
 * Sets the invoice's status, announces it, and returns it with the subscription it belongs to
 * (locked), for the caller to move.
 */
async function settle(
  tx: Executor,
  deps: TransitionDeps,
  invoiceId: string,
  status: 'paid' | 'failed',
  adminId: string,
) {
  const now = deps.clock.now()
  const ctx = { deps, actor: userActor(adminId), now }
  const invoice = await settleInvoice(tx, deps, ctx, invoiceId, status)
  const [subscription] = invoice.subscriptionId
    ? await tx.select().from(subscriptions).where(eq(subscriptions.id, invoice.subscriptionId)).for('update')
    : []
  return { invoice, ctx, subscription }
}

/** Records the payment of an open or failed manual invoice; a past_due subscription with nothing else unpaid recovers. */
export async function markPaid(
  tx: Executor,
  deps: TransitionDeps,
  invoiceId: string,
  adminId: string,
): Promise<Invoice> {
  const row = await lockManualInvoice(tx, invoiceId)
  if (row.status === 'paid') return toInvoice(row)
  if (row.status !== 'open' && row.status !== 'failed') {
    throw new AppError('conflict', `A ${row.status} invoice cannot be marked paid`)
  }
  const { invoice: paid, ctx, subscription } = await settle(tx, deps, row.id, 'paid', adminId)
  // Recovered once nothing else is left unpaid.
  if (subscription?.status === 'past_due' && !(await hasFailedInvoice(tx, subscription.id))) {
    // One set to end at period end goes on ending, as `canceled` again.
    await applyState(tx, ctx, subscription, {
      status: subscription.cancelAtPeriodEnd ? 'canceled' : 'active',
    })
  }
  return toInvoice(paid)
}

/** Records that the payment of an open manual invoice failed: the subscription goes past_due and its owners are emailed. */
export async function markFailed(
  tx: Executor,
  deps: TransitionDeps,
  invoiceId: string,
  adminId: string,
): Promise<Invoice> {
  const row = await lockManualInvoice(tx, invoiceId)
  if (row.status === 'failed') return toInvoice(row)
  if (row.status !== 'open') throw new AppError('conflict', `A ${row.status} invoice cannot be marked failed`)
  const { invoice: failed, ctx, subscription } = await settle(tx, deps, row.id, 'failed', adminId)
  if (subscription && ['active', 'trialing', 'past_due'].includes(subscription.status)) {
    const after = await applyState(tx, ctx, subscription, { status: 'past_due' })
    const plan = await getPlanById(tx, after.planId)
    await mailAccountOwners(
      tx,
      deps,
      after.accountId,
      {
        template: 'payment_failed',
        plan_name: plan.name,
        amount_cents: failed.amountCents,
        currency: failed.currency,
        grace_until: (after.graceUntil ?? after.currentPeriodEnd).toISOString(),
      },
      `payment-failed:${failed.id}`,
    )
  }
  return toInvoice(failed)
}
