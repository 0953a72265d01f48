import { sql } from 'drizzle-orm'
import { check, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { accounts } from '../accounts/tables.ts'

/**
 * One counter per account, feature and period: the engine's O(1) source of truth for "used".
 * `period` is '' for count limits, 'YYYY-MM-DD' (account-local day) or 'YYYY-MM' for per-period ones.
 */
export const usageCounters = pgTable(
  'usage_counters',
  {
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    feature: text('feature').notNull(),
    period: text('period').notNull(),
    used: integer('used').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // Period before feature: an entitlement read seeks (account, period in today's keys) and
    // touches only today's counters, however many days of history the account has.
    primaryKey({ columns: [t.accountId, t.period, t.feature] }),
    check('usage_counters_used_check', sql`${t.used} >= 0`),
  ],
)
