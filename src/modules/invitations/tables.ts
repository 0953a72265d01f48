import { sql } from 'drizzle-orm'
import { check, index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { type Role, roles, sqlWords } from '../../core/vocabulary.ts'
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'

/**
 * Invitations to join an account. The token travels only in the email; the row keeps its SHA-256
 * (null until the sending job has made one). `expired` is not stored: a pending invitation whose
 * `expires_at` has passed reads as expired.
 */
export const invitations = pgTable(
  'invitations',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    email: text('email').notNull(),
    role: text('role').$type<Role>().notNull(),
    status: text('status').notNull().default('pending'),
    tokenHash: text('token_hash'),
    /** Bumped when a re-invitation refreshes the row: only the job of the latest one sends a link. */
    version: integer('version').notNull().default(1),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    acceptedBy: uuid('accepted_by').references(() => users.id, { onDelete: 'set null' }),
    acceptedAt: timestamp('accepted_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // One pending invitation per address and account: inviting again refreshes it (upsert on this index).
    uniqueIndex('invitations_pending_key')
      .on(t.accountId, sql`lower(${t.email})`)
      .where(sql`${t.status} = 'pending'`),
    uniqueIndex('invitations_token_hash_key').on(t.tokenHash),
    index('invitations_account_idx').on(t.accountId, t.id),
    check('invitations_role_check', sql`${t.role} in (${sqlWords(roles)})`),
    check('invitations_status_check', sql`${t.status} in ('pending', 'accepted', 'revoked')`),
  ],
)
