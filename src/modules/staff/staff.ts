import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm'
import { type Executor, queryRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import {
  activeUserColumn,
  assertActiveMember,
  memberCtes,
  memberHasRole,
  memberRoleColumn,
} from '../accounts/membership.ts'
import { type Role, rolesFrom } from '../accounts/roles.ts'
import type { Caller } from '../auth/sessions.ts'
import { assertGranted, consumeUnits, counterCte, releaseUnitsSql } from '../entitlements/engine.ts'
import type { CreateStaffBody, Staff } from './schemas.ts'
import { staff } from './tables.ts'

const feature = 'staff'

/** The columns a staff member is shown with. */
type StaffRow = Pick<
  typeof staff.$inferSelect,
  'id' | 'accountId' | 'name' | 'email' | 'isActive' | 'createdAt'
>

function toStaff(row: StaffRow): Staff {
  return {
    id: row.id,
    account_id: row.accountId,
    name: row.name,
    email: row.email,
    is_active: row.isActive,
    created_at: new Date(row.createdAt).toISOString(),
  }
}

/** `returning` of the StaffRow columns, under their property names. */
const returningStaffRow = sql`returning ${sql.join(
  (['id', 'accountId', 'name', 'email', 'isActive', 'createdAt'] as const).map(
    (key) => sql`${staff[key]} as ${sql.identifier(key)}`,
  ),
  sql`, `,
)}`

const column = (name: { name: string }) => sql.identifier(name.name)

/**
 * Adds a staff member if the plan's `staff` limit has room: the membership check, the counter
 * increment and the insert are one statement (owners and admins).
 */
export async function createStaff(
  executor: Executor,
  accountId: string,
  caller: Caller,
  input: CreateStaffBody,
  now: Date,
): Promise<Staff> {
  const spec = { accountId, caller, minRole: 'admin' as const, feature, quantity: 1, period: sql`''`, now }
  const outcome = await consumeUnits<StaffRow>(executor, {
    ...spec,
    insert: sql`insert into ${staff} (${column(staff.id)}, ${column(staff.accountId)}, ${column(staff.name)}, ${column(staff.email)}, ${column(staff.isActive)}, ${column(staff.createdAt)})
      select ${newId()}::uuid, ${accountId}::uuid, ${input.name}, ${input.email ?? null}, ${input.is_active}, ${now.toISOString()}::timestamptz
      from ${counterCte}
      ${returningStaffRow}`,
  })
  assertGranted(outcome, spec)
  if (!outcome.row) throw new Error('granted staff insert returned no row')
  return toStaff(outcome.row)
}

export async function listStaff(executor: Executor, accountId: string, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await executor
    .select()
    .from(staff)
    .where(
      and(
        eq(staff.accountId, accountId),
        isNull(staff.deletedAt),
        cursor ? gt(staff.id, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(asc(staff.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.id], toStaff)
}

/** Deletes a staff member and frees its unit, in one statement (owners and admins). */
export async function deleteStaff(
  executor: Executor,
  accountId: string,
  caller: Caller,
  staffId: string,
  now: Date,
): Promise<void> {
  const deleted = sql.identifier('del')
  const released = sql.identifier('rel')
  const row = await queryRow<{ role: Role | null; active: boolean; deleted: boolean }>(
    executor,
    sql`with ${memberCtes(accountId, caller)},
      ${deleted} as (
        update ${staff} set ${column(staff.deletedAt)} = ${now.toISOString()}::timestamptz
        where ${staff.id} = ${staffId}::uuid and ${staff.accountId} = ${accountId}::uuid and ${staff.deletedAt} is null
          and ${memberHasRole('admin')}
        returning ${staff.id}
      ),
      ${released} as (${releaseUnitsSql(accountId, feature, sql`''`, 1, now, sql`exists (select 1 from ${deleted})`)})
    select ${memberRoleColumn} as role, ${activeUserColumn} as active, exists (select 1 from ${deleted}) as deleted`,
  )
  assertActiveMember(row?.active, row?.role)
  if (!row?.role) throw notFound('Account')
  if (!rolesFrom('admin').includes(row.role))
    throw new AppError('forbidden', 'This needs the admin role in the account')
  if (!row.deleted) throw notFound('Staff member')
}
