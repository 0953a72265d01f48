// Payments recorded by an operator for the manual provider: an open invoice is marked paid (a
// past_due subscription recovers) or failed (the subscription goes past_due and its grace period
// starts). Stripe invoices are Stripe's to settle.
import { and, eq } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import { userActor } from '../audit/audit.ts'
import { getPlanById } from '../plans/plans.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { applyState, mailAccountOwners } from '../subscriptions/transitions.ts'
import { announceInvoice, type Invoice, toInvoice } from './invoices.ts'
import { invoices } from './tables.ts'

type PaymentDeps = Pick<Deps, 'config' | 'jobs' | 'clock'>

async function lockManualInvoice(tx: Executor, id: string) {
  const [row] = await tx.select().from(invoices).where(eq(invoices.id, id)).for('update')
  if (!row) throw notFound('Invoice')
  if (row.provider !== 'manual')
    throw new AppError('conflict', `A ${row.provider} invoice is settled by ${row.provider}`)
  return row
}

/**
 * Sets the invoice's status, announces it, and returns it with the subscription it belongs to
 * (locked), for the caller to move.
 */
async function settle(
  tx: Executor,
  deps: PaymentDeps,
  invoiceId: string,
  status: 'paid' | 'failed',
  adminId: string,
) {
  const now = deps.clock.now()
  const [invoice] = await tx
    .update(invoices)
    .set(status === 'paid' ? { status, paidAt: now } : { status })
    .where(eq(invoices.id, invoiceId))
    .returning()
  if (!invoice) throw notFound('Invoice')
  const ctx = { deps, actor: userActor(adminId), now }
  await announceInvoice(tx, deps, ctx, invoice, status)
  const [subscription] = invoice.subscriptionId
    ? await tx.select().from(subscriptions).where(eq(subscriptions.id, invoice.subscriptionId)).for('update')
    : []
  return { invoice, ctx, subscription }
}

export async function markPaid(
  tx: Executor,
  deps: PaymentDeps,
  invoiceId: string,
  adminId: string,
): Promise<Invoice> {
  const row = await lockManualInvoice(tx, invoiceId)
  if (row.status === 'paid') return toInvoice(row)
  if (row.status !== 'open' && row.status !== 'failed') {
    throw new AppError('conflict', `A ${row.status} invoice cannot be marked paid`)
  }
  const { invoice: paid, ctx, subscription } = await settle(tx, deps, row.id, 'paid', adminId)
  if (subscription?.status === 'past_due') {
    // Recovered once nothing else is left unpaid.
    const unpaid = await tx
      .select({ id: invoices.id })
      .from(invoices)
      .where(and(eq(invoices.subscriptionId, subscription.id), eq(invoices.status, 'failed')))
      .limit(1)
    // One set to end at period end goes on ending, as `canceled` again.
    if (unpaid.length === 0) {
      await applyState(tx, ctx, subscription, {
        status: subscription.cancelAtPeriodEnd ? 'canceled' : 'active',
      })
    }
  }
  return toInvoice(paid)
}

export async function markFailed(
  tx: Executor,
  deps: PaymentDeps,
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
