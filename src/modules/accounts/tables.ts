import { sql } from 'drizzle-orm'
import { check, index, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { type Role, roles, sqlWords } from '../../core/vocabulary.ts'
import { users } from '../auth/tables.ts'

/** The unique index on `accounts.external_id`; a violation of it is a duplicate external id. */
export const externalIdIndex = 'accounts_external_id_key'

export const accounts = pgTable(
  'accounts',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** IANA time zone; per-day limits count days in it. */
    timezone: text('timezone').notNull().default('UTC'),
    /**
     * The integrating product's own id for this tenant, compared exactly (case-sensitive). Unique
     * among the accounts that have one; any number of accounts have none (null).
     */
    externalId: text('external_id'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    /** The Stripe customer, created on demand. */
    stripeCustomerId: text('stripe_customer_id').unique(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // The database decides duplicates, so two concurrent creates with one external id cannot both
    // win; the index is also the lookup of `GET /v1/accounts?external_id=`.
    uniqueIndex(externalIdIndex).on(t.externalId),
    // The request schema's rule (visible ASCII, 1 to 255 characters), kept by the table too.
    check('accounts_external_id_check', sql`${t.externalId} ~ '^[!-~]{1,255}$'`),
  ],
)

export const accountMembers = pgTable(
  'account_members',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role').$type<Role>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.userId] }),
    index('account_members_user_idx').on(t.userId),
    check('account_members_role_check', sql`${t.role} in (${sqlWords(roles)})`),
  ],
)
