import { and, asc, eq, or, type SQL, sql } from 'drizzle-orm'
import { type Executor, queryRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { activeUserColumn, assertActiveMember, memberCtes } from '../accounts/membership.ts'
import type { Caller } from '../auth/sessions.ts'
import {
  assertGranted,
  type ConsumeSpec,
  consumeUnits,
  consumeUnitsSql,
  periodAt,
  releaseUnitsSql,
} from '../entitlements/engine.ts'
import type { Booking, CreateBookingBody, ListBookingsQuery } from './schemas.ts'
import { bookings } from './tables.ts'

const feature = 'bookings_per_day'

interface BookingRow {
  id: string
  account_id: string
  staff_id: string | null
  customer_name: string
  starts_at: Date | string
  duration_minutes: number
  status: 'confirmed' | 'canceled'
  local_date: string
  created_at: Date | string
  canceled_at: Date | string | null
}

const returning = sql`returning id, account_id, staff_id, customer_name, starts_at, duration_minutes, status,
  local_date::text as local_date, created_at, canceled_at`

function toBooking(row: BookingRow): Booking {
  return {
    id: row.id,
    account_id: row.account_id,
    staff_id: row.staff_id,
    customer_name: row.customer_name,
    starts_at: new Date(row.starts_at).toISOString(),
    duration_minutes: Number(row.duration_minutes),
    status: row.status,
    local_date: row.local_date,
    created_at: new Date(row.created_at).toISOString(),
    canceled_at: row.canceled_at === null ? null : new Date(row.canceled_at).toISOString(),
  }
}

/** The consume spec of a booking creation: membership, the staff check, the counter and the insert. */
function bookingSpec(
  accountId: string,
  caller: Caller,
  input: CreateBookingBody,
  now: Date,
  bookingId: string,
): ConsumeSpec {
  const startsAt = sql`${input.starts_at}::timestamptz`
  const staffId = input.staff_id ?? null
  return {
    accountId,
    caller,
    minRole: 'member',
    feature,
    quantity: 1,
    period: periodAt(feature, startsAt),
    now,
    gate:
      staffId === null
        ? sql`true`
        : sql`exists (select 1 from staff st where st.id = ${staffId}::uuid and st.account_id = ${accountId}::uuid and st.deleted_at is null)`,
    insert: sql`insert into bookings (id, account_id, staff_id, customer_name, starts_at, duration_minutes, status, local_date, created_at)
      select ${bookingId}::uuid, ${accountId}::uuid, ${staffId}::uuid, ${input.customer_name}, ${startsAt},
             ${input.duration_minutes}::int, 'confirmed', per.period::date, ${now.toISOString()}::timestamptz
      from ctr, per
      ${returning}`,
  }
}

/**
 * The statement `createBooking` runs, built without running it (the benchmark renders it for
 * pgbench, so its ceiling is exactly this SQL).
 */
export function bookingInsertSql(
  accountId: string,
  caller: Caller,
  input: CreateBookingBody,
  now: Date,
  bookingId: string,
): SQL {
  return consumeUnitsSql(bookingSpec(accountId, caller, input, now, bookingId))
}

/**
 * Creates a booking if the day has room under `bookings_per_day`, counted on the booking's start
 * day in the account's time zone. Membership, the staff check, access, the counter and the insert
 * are one statement: one round trip, and no interleaving can over-admit.
 */
export async function createBooking(
  executor: Executor,
  accountId: string,
  caller: Caller,
  input: CreateBookingBody,
  now: Date,
): Promise<Booking> {
  const spec = bookingSpec(accountId, caller, input, now, newId())
  const outcome = await consumeUnits<BookingRow>(executor, spec)
  assertGranted(
    outcome,
    spec,
    () =>
      new AppError('validation_failed', 'No such staff member in this account', {
        errors: [{ location: 'body.staff_id', message: 'unknown staff member' }],
      }),
  )
  if (!outcome.row) throw new Error('granted booking insert returned no row')
  return toBooking(outcome.row)
}

export async function listBookings(executor: Executor, accountId: string, query: ListBookingsQuery) {
  const cursor = decodeCursor(query.cursor, 2)
  const conditions: (SQL | undefined)[] = [
    eq(bookings.accountId, accountId),
    query.date ? eq(bookings.localDate, query.date) : undefined,
    query.status ? eq(bookings.status, query.status) : undefined,
  ]
  if (cursor) {
    const [startsAt, id] = [new Date(String(cursor[0])), String(cursor[1])]
    conditions.push(
      or(
        sql`${bookings.startsAt} > ${startsAt.toISOString()}::timestamptz`,
        and(eq(bookings.startsAt, startsAt), sql`${bookings.id} > ${id}::uuid`),
      ),
    )
  }
  const rows = await executor
    .select()
    .from(bookings)
    .where(and(...conditions))
    .orderBy(asc(bookings.startsAt), asc(bookings.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.startsAt.toISOString(), row.id],
    (row) =>
      toBooking({
        id: row.id,
        account_id: row.accountId,
        staff_id: row.staffId,
        customer_name: row.customerName,
        starts_at: row.startsAt,
        duration_minutes: row.durationMinutes,
        status: row.status as BookingRow['status'],
        local_date: row.localDate,
        created_at: row.createdAt,
        canceled_at: row.canceledAt,
      }),
  )
}

/** Cancels a booking and frees its day's unit, in one statement (any member). */
export async function cancelBooking(
  executor: Executor,
  accountId: string,
  caller: Caller,
  bookingId: string,
  now: Date,
): Promise<Booking> {
  const row = await queryRow<BookingRow & { _role: string | null; _active: boolean; _was: string | null }>(
    executor,
    sql`with ${memberCtes(accountId, caller)},
      c as (
        update bookings set status = 'canceled', canceled_at = ${now.toISOString()}::timestamptz
        where id = ${bookingId}::uuid and account_id = ${accountId}::uuid and status = 'confirmed'
          and exists (select 1 from mem)
        ${returning}
      ),
      rel as (${releaseUnitsSql(accountId, feature, sql`(select local_date from c)`, 1, now, sql`exists (select 1 from c)`)})
    select (select role from mem) as _role,
      ${activeUserColumn} as _active,
      (select b.status from bookings b where b.id = ${bookingId}::uuid and b.account_id = ${accountId}::uuid) as _was,
      c.*
    from (select 1) as one left join c on true`,
  )
  assertActiveMember(row?._active, row?._role)
  if (!row?._role) throw notFound('Account')
  if (row.id === null || row.id === undefined) {
    if (row._was === 'canceled') throw new AppError('conflict', 'The booking is already canceled')
    throw notFound('Booking')
  }
  return toBooking(row)
}
