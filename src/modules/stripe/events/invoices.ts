// `invoice.*`: the invoice is re-read from Stripe and mirrored in billing's ledger, the
// subscription it bills is re-read and mirrored too (past_due after a failure, active after a
// payment), and a failed payment (or one that needs the customer) is mailed to the owners.
import type Stripe from 'stripe'
import type { Executor } from '../../../core/db.ts'
import { accountOfStripeCustomer } from '../../accounts/stripe-customer.ts'
import { attachInvoice, type InvoiceAnnouncement, recordProviderInvoice } from '../../billing/invoices.ts'
import type { InvoiceStatus } from '../../billing/tables.ts'
import { getPlanById } from '../../plans/plans.ts'
import {
  findByProviderSubscription,
  mailAccountOwners,
  type SubscriptionRow,
  type TransitionContext,
} from '../../subscriptions/sync.ts'
import { fromUnix, idOf } from '../client.ts'
import {
  ignore,
  readOf,
  readSubscription,
  type StripeEventDeps,
  type StripeEventHandler,
  type StripeReads,
  see,
  unchanged,
} from './reads.ts'
import { linkedSubscription, syncSubscription } from './subscriptions.ts'

/** The invoice events plangate mirrors (the invoice's re-read says what changed). */
export type InvoiceEvent = Extract<
  Stripe.Event,
  {
    type:
      | 'invoice.created'
      | 'invoice.finalized'
      | 'invoice.paid'
      | 'invoice.payment_succeeded'
      | 'invoice.payment_failed'
      | 'invoice.payment_action_required'
      | 'invoice.voided'
      | 'invoice.marked_uncollectible'
  }
>

function subscriptionOfInvoice(invoice: Stripe.Invoice): string | null {
  // API versions before 2025 name the subscription on the invoice itself.
  const legacy = invoice as Stripe.Invoice & { subscription?: string | { id: string } | null }
  return idOf(invoice.parent?.subscription_details?.subscription ?? legacy.subscription)
}

function invoiceStatusOf(invoice: Stripe.Invoice, eventType: InvoiceEvent['type']): InvoiceStatus | null {
  switch (invoice.status) {
    case 'paid':
      return 'paid'
    case 'void':
      return 'void'
    case 'uncollectible':
      return 'failed'
    case 'open':
      return eventType === 'invoice.payment_failed' || (invoice.attempt_count ?? 0) > 0 ? 'failed' : 'open'
    default:
      return null
  }
}

/** Step 1: the invoice in the ledger; returns what was announced of it (null: nothing). */
async function recordInvoice(
  tx: Executor,
  deps: StripeEventDeps,
  ctx: TransitionContext,
  event: InvoiceEvent,
  accountId: string,
  invoice: Stripe.Invoice,
  linked: SubscriptionRow | null,
): Promise<InvoiceAnnouncement | null> {
  const status = invoiceStatusOf(invoice, event.type)
  if (!status || !invoice.id) return null
  const line = invoice.lines?.data?.[0]
  return recordProviderInvoice(tx, deps, ctx, {
    accountId,
    subscriptionId: linked?.id ?? null,
    provider: 'stripe',
    providerInvoiceId: invoice.id,
    amountCents: status === 'paid' ? invoice.amount_paid : invoice.amount_due,
    currency: invoice.currency,
    status,
    description: invoice.description ?? line?.description ?? '',
    periodStart: fromUnix(line?.period?.start ?? invoice.period_start),
    periodEnd: fromUnix(line?.period?.end ?? invoice.period_end),
    hostedUrl: invoice.hosted_invoice_url ?? null,
    paidAt: status === 'paid' ? (fromUnix(invoice.status_transitions?.paid_at) ?? ctx.now) : null,
  })
}

/**
 * Step 2: the subscription it bills, as Stripe has it now. Before the Checkout completion is
 * processed it is found as the account's Checkout named in the subscription's metadata, and the
 * invoice is attached to it. Returns the subscription after the sync (null: none of ours).
 */
async function syncBilledSubscription(
  tx: Executor,
  deps: StripeEventDeps,
  ctx: TransitionContext,
  reads: StripeReads,
  invoice: Stripe.Invoice,
  linked: SubscriptionRow | null,
): Promise<SubscriptionRow | null> {
  const stripeSubscriptionId = subscriptionOfInvoice(invoice)
  const fresh = stripeSubscriptionId ? readOf(reads.subscriptions, stripeSubscriptionId) : null
  const pending = !linked && fresh ? await linkedSubscription(tx, fresh, true) : null
  if (pending) unchanged(reads, pending)
  const local = linked ?? pending
  const after = local && fresh ? await syncSubscription(tx, deps, ctx, local, fresh) : null
  if (local && !linked && invoice.id) await attachInvoice(tx, 'stripe', invoice.id, local.id)
  return after
}

/** Step 3: the owners hear of a failed payment, or of one that needs them (3-D Secure). */
async function mailPaymentFailed(
  tx: Executor,
  deps: StripeEventDeps,
  ctx: TransitionContext,
  accountId: string,
  invoice: Stripe.Invoice,
  after: SubscriptionRow | null,
): Promise<void> {
  const plan = after ? await getPlanById(tx, after.planId) : null
  await mailAccountOwners(
    tx,
    deps,
    accountId,
    {
      template: 'payment_failed',
      plan_name: plan?.name ?? 'your plan',
      amount_cents: invoice.amount_due,
      currency: invoice.currency,
      grace_until: (after?.graceUntil ?? after?.currentPeriodEnd ?? ctx.now).toISOString(),
      billing_url: invoice.hosted_invoice_url ?? null,
    },
    `payment-failed:${invoice.id}:${invoice.attempt_count ?? 0}`,
  )
}

export const invoiceChanged = (event: InvoiceEvent): StripeEventHandler => {
  const sent = event.data.object
  return {
    async read(deps, reads) {
      if (!sent.id || !(await accountOfStripeCustomer(deps.db, idOf(sent.customer)))) return
      const invoice = await deps.stripe.retrieveInvoice(sent.id)
      reads.invoices.set(sent.id, invoice)
      const subscriptionId = invoice ? subscriptionOfInvoice(invoice) : null
      if (subscriptionId) {
        see(reads, await findByProviderSubscription(deps.db, 'stripe', subscriptionId, { lock: false }))
        see(
          reads,
          await linkedSubscription(deps.db, await readSubscription(deps, reads, subscriptionId), false),
        )
      }
    },
    async apply(tx, deps, ctx, reads) {
      const account = await accountOfStripeCustomer(tx, idOf(sent.customer))
      if (!account || !sent.id) return ignore(deps, event, 'the customer is not an account of ours')
      const invoice = readOf(reads.invoices, sent.id)
      // Deleted since (a draft): nothing to record.
      if (!invoice) return ignore(deps, event, 'the invoice no longer exists')
      const stripeSubscriptionId = subscriptionOfInvoice(invoice)
      const linked = stripeSubscriptionId
        ? await findByProviderSubscription(tx, 'stripe', stripeSubscriptionId, { lock: true })
        : null
      if (linked) unchanged(reads, linked)
      const change = await recordInvoice(tx, deps, ctx, event, account.id, invoice, linked)
      const after = await syncBilledSubscription(tx, deps, ctx, reads, invoice, linked)
      if (change === 'failed' || event.type === 'invoice.payment_action_required') {
        await mailPaymentFailed(tx, deps, ctx, account.id, invoice, after)
      }
    },
  }
}
