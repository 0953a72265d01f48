import { sql } from 'drizzle-orm'
import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import { apiKeys } from '../keys/tables.ts'

/** Who did what to which resource, append-only, for operators. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: uuid('id').primaryKey(),
    actorUserId: uuid('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    /** `user`, `key` (an API key), `system` (jobs, sweeps), `provider` (Stripe webhooks) or `anonymous` (failed sign-ins, lockouts). */
    actorType: text('actor_type').notNull().default('user'),
    /** The API key that made the change (actor type `key`). */
    actorKeyId: uuid('actor_key_id').references(() => apiKeys.id, { onDelete: 'set null' }),
    accountId: uuid('account_id').references(() => accounts.id, { onDelete: 'set null' }),
    action: text('action').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    index('audit_log_account_idx').on(t.accountId, t.id),
    index('audit_log_action_idx').on(t.action, t.id),
  ],
)
