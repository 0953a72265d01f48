import { sql } from 'drizzle-orm'
import { check, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { sqlWords } from '../../core/vocabulary.ts'
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import { type KeyScope, keyScopes } from './scopes.ts'

/**
 * Secret keys of the integrating product's backend. The secret itself is never stored: only its
 * SHA-256 (looked up by equality, unique) and a short prefix to recognise it in lists.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** The first characters of the secret (`pgk_` and 8 more), shown in lists. */
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    scopes: text('scopes').array().$type<KeyScope[]>().notNull(),
    /** The one account an account key acts on; null for a site key. */
    accountId: uuid('account_id').references(() => accounts.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    /** Written at most once a minute per key. */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    index('api_keys_account_idx').on(t.accountId, t.id),
    check('api_keys_scopes_check', sql`${t.scopes} <@ array[${sqlWords(keyScopes)}]::text[]`),
  ],
)
