import { and, asc, eq, or, type SQL, sql } from 'drizzle-orm'
import { type Executor, statementRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { statement } from '../../core/statement.ts'
import {
  activeUserColumn,
  assertActiveMember,
  assertScope,
  type Credential,
  memberRoleColumn,
  type PrincipalValues,
  principalSql,
  principalValues,
} from '../accounts/membership.ts'
import type { Role } from '../accounts/roles.ts'
import {
  assertGranted,
  byPrincipal,
  consumeStatement,
  consumeUnits,
  counterCte,
  periodAt,
  periodColumn,
  periodCte,
  releaseUnitsSql,
  type UnitValues,
} from '../entitlements/engine.ts'
import { staff } from '../staff/tables.ts'
import type { Booking, CreateBookingBody, ListBookingsQuery } from './schemas.ts'
import { bookings } from './tables.ts'

const feature = 'bookings_per_day'

/** The columns a booking is shown with. */
type BookingRow = Pick<
  typeof bookings.$inferSelect,
  | 'id'
  | 'accountId'
  | 'staffId'
  | 'customerName'
  | 'startsAt'
  | 'durationMinutes'
  | 'status'
  | 'localDate'
  | 'createdAt'
  | 'canceledAt'
>

/** A column's bare name (insert lists, SET targets). */
const name = (column: { name: string }) => sql.identifier(column.name)

/** `returning` of the BookingRow columns under their property names; the day as text, not a Date. */
const returningBookingRow = sql`returning ${sql.join(
  (
    [
      'id',
      'accountId',
      'staffId',
      'customerName',
      'startsAt',
      'durationMinutes',
      'status',
      'localDate',
      'createdAt',
      'canceledAt',
    ] as const
  ).map((key) =>
    key === 'localDate'
      ? sql`${bookings.localDate}::text as ${sql.identifier(key)}`
      : sql`${bookings[key]} as ${sql.identifier(key)}`,
  ),
  sql`, `,
)}`

function toBooking(row: BookingRow): Booking {
  return {
    id: row.id,
    account_id: row.accountId,
    staff_id: row.staffId,
    customer_name: row.customerName,
    starts_at: new Date(row.startsAt).toISOString(),
    duration_minutes: Number(row.durationMinutes),
    status: row.status,
    local_date: row.localDate,
    created_at: new Date(row.createdAt).toISOString(),
    canceled_at: row.canceledAt === null ? null : new Date(row.canceledAt).toISOString(),
  }
}

/** The values of a booking creation, beside the unit's. */
interface BookingValues extends UnitValues {
  bookingId: string
  staffId: string | null
  customerName: string
  startsAt: string
  durationMinutes: number
}

/**
 * The statement `createBooking` runs, rendered once: membership, the staff check, access, the
 * counter and the insert. The benchmark runs the same text in pgbench, so its ceiling is exactly
 * this SQL.
 */
export const createBookingStatements = consumeStatement<BookingValues>({
  minRole: 'member',
  scope: 'resources:write',
  resource: true,
  period: (slot) => periodAt('per_day', sql`${slot.startsAt}::timestamptz`),
  gate: (slot) =>
    sql`${slot.staffId}::uuid is null or exists (select 1 from ${staff} where ${staff.id} = ${slot.staffId}::uuid and ${staff.accountId} = ${slot.accountId}::uuid and ${staff.deletedAt} is null)`,
  insert: (slot) => sql`insert into ${bookings} (${sql.join(
    [
      bookings.id,
      bookings.accountId,
      bookings.staffId,
      bookings.customerName,
      bookings.startsAt,
      bookings.durationMinutes,
      bookings.status,
      bookings.localDate,
      bookings.createdAt,
    ].map(name),
    sql`, `,
  )})
      select ${slot.bookingId}::uuid, ${slot.accountId}::uuid, ${slot.staffId}::uuid, ${slot.customerName}::text, ${slot.startsAt}::timestamptz,
             ${slot.durationMinutes}::int, 'confirmed', ${periodCte}.${periodColumn}::date, ${slot.now}::timestamptz
      from ${counterCte}, ${periodCte}
      ${returningBookingRow}`,
})

/** The values of `createBookingStatements` for one booking, beside the principal's. */
export function bookingValues(
  accountId: string,
  input: CreateBookingBody,
  now: Date,
  bookingId: string,
): Omit<BookingValues, keyof PrincipalValues> {
  return {
    accountId,
    feature,
    quantity: 1,
    now: now.toISOString(),
    bookingId,
    staffId: input.staff_id ?? null,
    customerName: input.customer_name,
    startsAt: input.starts_at,
    durationMinutes: input.duration_minutes,
  }
}

/**
 * Creates a booking if the day has room under `bookings_per_day`, counted on the booking's start
 * day in the account's time zone. Membership, the staff check, access, the counter and the insert
 * are one statement: one round trip, and no interleaving can over-admit.
 */
export async function createBooking(
  executor: Executor,
  accountId: string,
  credential: Credential,
  input: CreateBookingBody,
  now: Date,
): Promise<Booking> {
  const outcome = await consumeUnits<BookingRow, BookingValues>(
    executor,
    createBookingStatements,
    credential,
    bookingValues(accountId, input, now, newId()),
  )
  assertGranted(
    outcome,
    { feature, minRole: 'member', scope: 'resources:write' },
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
  return toPage(rows, query.limit, (row) => [row.startsAt.toISOString(), row.id], toBooking)
}

interface CancelBookingValues extends PrincipalValues {
  accountId: string
  bookingId: string
  now: string
}

/** The cancellation and the release of its day's unit, rendered once per kind of principal. */
const cancelBookingStatements = byPrincipal((kind) =>
  statement<CancelBookingValues>((slot) => {
    const principal = principalSql(kind, slot, 'resources:write')
    const canceled = sql.identifier('canceled')
    const released = sql.identifier('rel')
    return sql`with ${principal.ctes},
      ${canceled} as (
        update ${bookings} set ${name(bookings.status)} = 'canceled', ${name(bookings.canceledAt)} = ${slot.now}::timestamptz
        where ${bookings.id} = ${slot.bookingId}::uuid and ${bookings.accountId} = ${slot.accountId}::uuid and ${bookings.status} = 'confirmed'
          and ${principal.hasRole('member')}
        ${returningBookingRow}
      ),
      ${released} as (${releaseUnitsSql(slot.accountId, feature, sql`(select ${sql.identifier('localDate')} from ${canceled})`, 1, slot.now, sql`exists (select 1 from ${canceled})`)})
    select ${memberRoleColumn} as _role,
      ${activeUserColumn} as _active,
      ${principal.scopeOkColumn} as _scope_ok,
      (select ${bookings.status} from ${bookings} where ${bookings.id} = ${slot.bookingId}::uuid and ${bookings.accountId} = ${slot.accountId}::uuid) as _was,
      ${canceled}.*
    from (select 1) as one left join ${canceled} on true`
  }),
)

/** Cancels a booking and frees its day's unit, in one statement (any member). */
export async function cancelBooking(
  executor: Executor,
  accountId: string,
  credential: Credential,
  bookingId: string,
  now: Date,
): Promise<Booking> {
  const row = await statementRow<
    (BookingRow | Record<keyof BookingRow, null>) & {
      _role: Role | null
      _active: boolean
      _scope_ok: boolean
      _was: BookingRow['status'] | null
    },
    CancelBookingValues
  >(executor, cancelBookingStatements[credential.kind], {
    accountId,
    ...principalValues(credential),
    bookingId,
    now: now.toISOString(),
  })
  assertActiveMember(row?._active, row?._role, credential.kind)
  if (!row?._role) throw notFound('Account')
  assertScope(row._scope_ok, 'resources:write')
  if (row.id === null || row.id === undefined) {
    if (row._was === 'canceled') throw new AppError('conflict', 'The booking is already canceled')
    throw notFound('Booking')
  }
  return toBooking(row)
}
