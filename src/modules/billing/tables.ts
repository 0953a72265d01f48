import { sql } from 'drizzle-orm'
import { check, index, integer, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core'
import { accounts } from '../accounts/tables.ts'

/**
 * The `subscriptions` table as far as an invoice's foreign key needs it (its key). Billing sits
 * below subscriptions, so it names the table rather than importing its definition; drizzle-kit
 * derives the same constraint from it. Not exported: the subscriptions module owns the table.
 */
const subscriptionKey = pgTable('subscriptions', { id: uuid('id').primaryKey() })

export const invoiceStatuses = ['paid', 'open', 'failed', 'refunded', 'void'] as const
export type InvoiceStatus = (typeof invoiceStatuses)[number]

/** The ledger of invoices and payments, one row per provider invoice. */
export const invoices = pgTable(
  'invoices',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    subscriptionId: uuid('subscription_id').references(() => subscriptionKey.id, { onDelete: 'set null' }),
    provider: text('provider').notNull(),
    providerInvoiceId: text('provider_invoice_id').notNull(),
    amountCents: integer('amount_cents').notNull(),
    currency: text('currency').notNull(),
    status: text('status').$type<InvoiceStatus>().notNull(),
    description: text('description').notNull().default(''),
    periodStart: timestamp('period_start', { withTimezone: true }),
    periodEnd: timestamp('period_end', { withTimezone: true }),
    hostedUrl: text('hosted_url'),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    unique('invoices_provider_invoice_key').on(t.provider, t.providerInvoiceId),
    index('invoices_account_idx').on(t.accountId, t.id),
    check('invoices_status_check', sql`${t.status} in ('paid', 'open', 'failed', 'refunded', 'void')`),
  ],
)
