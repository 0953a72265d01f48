import { and, desc, eq, lt } from 'drizzle-orm'
import { z } from 'zod'
import type { Executor } from '../../core/db.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import type { Deps } from '../../deps.ts'
import { type AuditActor, audit } from '../audit/audit.ts'
import { emitEvent } from '../webhooks/events.ts'
import { type InvoiceStatus, invoiceStatuses, invoices } from './tables.ts'

export const Invoice = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    subscription_id: z.uuid().nullable(),
    provider: z.string(),
    provider_invoice_id: z.string(),
    amount_cents: z.number().int(),
    currency: z.string(),
    status: z.enum(invoiceStatuses),
    description: z.string(),
    period_start: z.iso.datetime().nullable(),
    period_end: z.iso.datetime().nullable(),
    hosted_url: z.string().nullable(),
    paid_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'Invoice',
    example: {
      id: '0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45',
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      subscription_id: '0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12',
      provider: 'manual',
      provider_invoice_id: 'manual_0192f5c5',
      amount_cents: 1900,
      currency: 'usd',
      status: 'paid',
      description: 'Basic, Nov 1 – Dec 1, 2026',
      period_start: '2026-11-01T09:00:00.000Z',
      period_end: '2026-12-01T09:00:00.000Z',
      hosted_url: null,
      paid_at: '2026-11-01T09:05:00.000Z',
      created_at: '2026-11-01T09:00:00.000Z',
    },
  })
export type Invoice = z.infer<typeof Invoice>

type InvoiceRow = typeof invoices.$inferSelect

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
  deps: Pick<Deps, 'jobs' | 'clock'>,
  ctx: { actor: AuditActor; now: Date },
  row: typeof invoices.$inferSelect,
  change: 'created' | 'paid' | 'failed',
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
