import { sql } from 'drizzle-orm'
import { check, date, foreignKey, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { sqlWords } from '../../core/vocabulary.ts'
import { accounts } from '../accounts/tables.ts'
import { staff } from '../staff/tables.ts'
import { type BookingStatus, bookingStatuses } from './schemas.ts'

export const bookings = pgTable(
  'bookings',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    staffId: uuid('staff_id'),
    customerName: text('customer_name').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    durationMinutes: integer('duration_minutes').notNull(),
    status: text('status').$type<BookingStatus>().notNull().default('confirmed'),
    /** The account-local day the booking was counted on, so cancelling frees exactly that day's unit. */
    localDate: date('local_date', { mode: 'string' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    canceledAt: timestamp('canceled_at', { withTimezone: true }),
  },
  (t) => [
    foreignKey({ columns: [t.accountId, t.staffId], foreignColumns: [staff.accountId, staff.id] }),
    index('bookings_account_day_idx').on(t.accountId, t.localDate, t.startsAt),
    check('bookings_status_check', sql`${t.status} in (${sqlWords(bookingStatuses)})`),
    check('bookings_duration_check', sql`${t.durationMinutes} between 1 and 1440`),
  ],
)
