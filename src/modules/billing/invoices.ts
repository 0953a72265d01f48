import { and, desc, eq, isNull, lt } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { type AuditActor, audit } from '../audit/audit.ts'
import type { JobSender } from '../jobs/queue.ts'
import { emitEvent } from '../webhooks/events.ts'
import type { ProviderName } from './provider.ts'
import type { Invoice } from './schemas.ts'
import { type InvoiceStatus, invoices } from './tables.ts'

/** What announcing an invoice needs: the queue for the outgoing event's deliveries, and the clock. */
export interface InvoiceContext {
  jobs: JobSender
  clock: Clock
}

/** Who changed an invoice, and when. */
export interface InvoiceChange {
  actor: AuditActor
  now: Date
}

/** What happened to an invoice, as announced: `invoice.created`, `invoice.paid`, `invoice.payment_failed`. */
export type InvoiceAnnouncement = 'created' | 'paid' | 'failed'

export type InvoiceRow = typeof invoices.$inferSelect

export function toInvoice(row: InvoiceRow): Invoice {
  return {
    id: row.id,
    account_id: row.accountId,
    subscription_id: row.subscriptionId,
    provider: row.provider,
    provider_invoice_id: row.providerInvoiceId,
    amount_cents: row.amountCents,
    currency: row.currency,
    status: row.status,
    description: row.description,
    period_start: row.periodStart?.toISOString() ?? null,
    period_end: row.periodEnd?.toISOString() ?? null,
    hosted_url: row.hostedUrl,
    paid_at: row.paidAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
  }
}

export interface NewInvoice {
  accountId: string
  subscriptionId: string
  provider: string
  /** The provider's id; generated for the manual provider. */
  providerInvoiceId?: string
  amountCents: number
  currency: string
  status: InvoiceStatus
  description: string
  periodStart: Date
  periodEnd: Date
  now: Date
}

/** Records an invoice; the (provider, provider invoice id) key makes a repeated record a no-op (null). */
export async function recordInvoice(tx: Executor, input: NewInvoice): Promise<InvoiceRow | null> {
  const id = newId()
  const [row] = await tx
    .insert(invoices)
    .values({
      id,
      accountId: input.accountId,
      subscriptionId: input.subscriptionId,
      provider: input.provider,
      providerInvoiceId: input.providerInvoiceId ?? `manual_${id}`,
      amountCents: input.amountCents,
      currency: input.currency,
      status: input.status,
      description: input.description,
      periodStart: input.periodStart,
      periodEnd: input.periodEnd,
      paidAt: input.status === 'paid' ? input.now : null,
      createdAt: input.now,
    })
    .onConflictDoNothing({ target: [invoices.provider, invoices.providerInvoiceId] })
    .returning()
  return row ?? null
}

/** An account's invoices, newest first. */
export async function listInvoices(tx: Executor, accountId: string, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select()
    .from(invoices)
    .where(and(eq(invoices.accountId, accountId), cursor ? lt(invoices.id, String(cursor[0])) : undefined))
    .orderBy(desc(invoices.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.id], toInvoice)
}

/** Audit entry and outgoing `invoice.*` event for an invoice that was created, paid or failed. */
export async function announceInvoice(
  tx: Executor,
  deps: InvoiceContext,
  ctx: InvoiceChange,
  row: InvoiceRow,
  change: InvoiceAnnouncement,
): Promise<void> {
  const type = change === 'failed' ? ('invoice.payment_failed' as const) : (`invoice.${change}` as const)
  await audit(tx, {
    actor: ctx.actor,
    accountId: row.accountId,
    action: type,
    subjectType: 'invoice',
    subjectId: row.id,
    data: {
      amount_cents: row.amountCents,
      currency: row.currency,
      provider_invoice_id: row.providerInvoiceId,
    },
    at: ctx.now,
  })
  await emitEvent(tx, deps, { type, accountId: row.accountId, data: { invoice: toInvoice(row) } })
}

/** The manual invoice `id`, locked; 404 when there is none, 409 for another provider's (it settles its own). */
export async function lockManualInvoice(tx: Executor, id: string): Promise<InvoiceRow> {
  const [row] = await tx.select().from(invoices).where(eq(invoices.id, id)).for('update')
  if (!row) throw notFound('Invoice')
  if (row.provider !== 'manual')
    throw new AppError('conflict', `A ${row.provider} invoice is settled by ${row.provider}`)
  return row
}

/** Records that an invoice was paid or that its payment failed, and announces it. */
export async function settleInvoice(
  tx: Executor,
  deps: InvoiceContext,
  ctx: InvoiceChange,
  invoiceId: string,
  status: 'paid' | 'failed',
): Promise<InvoiceRow> {
  const [invoice] = await tx
    .update(invoices)
    .set(status === 'paid' ? { status, paidAt: ctx.now } : { status })
    .where(eq(invoices.id, invoiceId))
    .returning()
  if (!invoice) throw notFound('Invoice')
  await announceInvoice(tx, deps, ctx, invoice, status)
  return invoice
}

/** Whether a subscription still has an invoice whose payment failed. */
export async function hasFailedInvoice(tx: Executor, subscriptionId: string): Promise<boolean> {
  const unpaid = await tx
    .select({ id: invoices.id })
    .from(invoices)
    .where(and(eq(invoices.subscriptionId, subscriptionId), eq(invoices.status, 'failed')))
    .limit(1)
  return unpaid.length > 0
}

/** What a provider says of one of its invoices. */
export interface ProviderInvoice {
  accountId: string
  subscriptionId: string | null
  provider: ProviderName
  providerInvoiceId: string
  amountCents: number
  currency: string
  status: InvoiceStatus
  description: string
  periodStart: Date | null
  periodEnd: Date | null
  hostedUrl: string | null
  paidAt: Date | null
}

/** A later status may replace an earlier one, never the other way (a late `payment_failed` never un-pays). */
const finalStatuses: InvoiceStatus[] = ['paid', 'void', 'refunded']

/**
 * Mirrors a provider's invoice in the ledger: recorded the first time (announced as created, and
 * paid or failed), then updated while its status is not final. Returns what was announced of its
 * payment (`created`, `paid`, `failed`), or null when nothing was.
 */
export async function recordProviderInvoice(
  tx: Executor,
  deps: InvoiceContext,
  ctx: InvoiceChange,
  input: ProviderInvoice,
): Promise<InvoiceAnnouncement | null> {
  const { accountId, subscriptionId, provider, providerInvoiceId, ...values } = input
  const [created] = await tx
    .insert(invoices)
    .values({
      id: newId(),
      accountId,
      subscriptionId,
      provider,
      providerInvoiceId,
      createdAt: ctx.now,
      ...values,
    })
    .onConflictDoNothing({ target: [invoices.provider, invoices.providerInvoiceId] })
    .returning()
  if (created) {
    const change = values.status === 'paid' ? 'paid' : values.status === 'failed' ? 'failed' : 'created'
    if (change !== 'created') await announceInvoice(tx, deps, ctx, created, 'created')
    await announceInvoice(tx, deps, ctx, created, change)
    return change
  }
  const [existing] = await tx
    .select()
    .from(invoices)
    .where(and(eq(invoices.provider, provider), eq(invoices.providerInvoiceId, providerInvoiceId)))
    .for('update')
  if (!existing || existing.status === values.status || finalStatuses.includes(existing.status)) return null
  const [updated] = await tx.update(invoices).set(values).where(eq(invoices.id, existing.id)).returning()
  if (updated && (values.status === 'paid' || values.status === 'failed')) {
    await announceInvoice(tx, deps, ctx, updated, values.status)
    return values.status
  }
  return null
}

/** Attaches a provider's invoice recorded before its subscription was known to that subscription. */
export async function attachInvoice(
  tx: Executor,
  provider: ProviderName,
  providerInvoiceId: string,
  subscriptionId: string,
): Promise<void> {
  await tx
    .update(invoices)
    .set({ subscriptionId })
    .where(
      and(
        eq(invoices.provider, provider),
        eq(invoices.providerInvoiceId, providerInvoiceId),
        isNull(invoices.subscriptionId),
      ),
    )
}
