import { sql } from 'drizzle-orm'
import { boolean, index, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core'
import { accounts } from '../accounts/tables.ts'

export const staff = pgTable(
  'staff',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    email: text('email'),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    /** Deleted staff stay for the bookings that name them, and no longer count against the limit. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    // Lets bookings reference (account_id, staff_id) so a booking can never name another account's staff.
    unique('staff_account_id_key').on(t.accountId, t.id),
    index('staff_account_live_idx').on(t.accountId, t.id).where(sql`${t.deletedAt} is null`),
  ],
)
