import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm'
import { type Executor, statementRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
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
import { type Role, rolesFrom } from '../accounts/roles.ts'
import {
  assertGranted,
  byPrincipal,
  consumeStatement,
  consumeUnits,
  counterCte,
  releaseUnitsSql,
  type UnitValues,
} from '../entitlements/engine.ts'
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

/** The values of a staff creation, beside the unit's. */
interface StaffValues extends UnitValues {
  staffId: string
  name: string
  email: string | null
  isActive: boolean
}

/** Membership (owners and admins), the counter increment and the insert, rendered once. */
const createStaffStatements = consumeStatement<StaffValues>({
  minRole: 'admin',
  scope: 'resources:write',
  resource: true,
  period: () => sql`''`,
  insert: (
    slot,
  ) => sql`insert into ${staff} (${column(staff.id)}, ${column(staff.accountId)}, ${column(staff.name)}, ${column(staff.email)}, ${column(staff.isActive)}, ${column(staff.createdAt)})
      select ${slot.staffId}::uuid, ${slot.accountId}::uuid, ${slot.name}::text, ${slot.email}::text, ${slot.isActive}::boolean, ${slot.now}::timestamptz
      from ${counterCte}
      ${returningStaffRow}`,
})

/**
 * Adds a staff member if the plan's `staff` limit has room: the membership check, the counter
 * increment and the insert are one statement (owners and admins).
 */
export async function createStaff(
  executor: Executor,
  accountId: string,
  credential: Credential,
  input: CreateStaffBody,
  now: Date,
): Promise<Staff> {
  const outcome = await consumeUnits<StaffRow, StaffValues>(executor, createStaffStatements, credential, {
    accountId,
    feature,
    quantity: 1,
    now: now.toISOString(),
    staffId: newId(),
    name: input.name,
    email: input.email ?? null,
    isActive: input.is_active,
  })
  assertGranted(outcome, { feature, minRole: 'admin', scope: 'resources:write' })
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

interface DeleteStaffValues extends PrincipalValues {
  accountId: string
  staffId: string
  now: string
}

/** The deletion and the release of its unit, rendered once per kind of principal. */
const deleteStaffStatements = byPrincipal((kind) =>
  statement<DeleteStaffValues>((slot) => {
    const principal = principalSql(kind, slot, 'resources:write')
    const deleted = sql.identifier('del')
    const released = sql.identifier('rel')
    return sql`with ${principal.ctes},
      ${deleted} as (
        update ${staff} set ${column(staff.deletedAt)} = ${slot.now}::timestamptz
        where ${staff.id} = ${slot.staffId}::uuid and ${staff.accountId} = ${slot.accountId}::uuid and ${staff.deletedAt} is null
          and ${principal.hasRole('admin')}
        returning ${staff.id}
      ),
      ${released} as (${releaseUnitsSql(slot.accountId, feature, sql`''`, 1, slot.now, sql`exists (select 1 from ${deleted})`)})
    select ${memberRoleColumn} as role, ${activeUserColumn} as active, ${principal.scopeOkColumn} as scope_ok,
      exists (select 1 from ${deleted}) as deleted`
  }),
)

/** Deletes a staff member and frees its unit, in one statement (owners and admins). */
export async function deleteStaff(
  executor: Executor,
  accountId: string,
  credential: Credential,
  staffId: string,
  now: Date,
): Promise<void> {
  const row = await statementRow<
    { role: Role | null; active: boolean; scope_ok: boolean; deleted: boolean },
    DeleteStaffValues
  >(executor, deleteStaffStatements[credential.kind], {
    accountId,
    ...principalValues(credential),
    staffId,
    now: now.toISOString(),
  })
  assertActiveMember(row?.active, row?.role, credential.kind)
  if (!row?.role) throw notFound('Account')
  assertScope(row.scope_ok, 'resources:write')
  if (!rolesFrom('admin').includes(row.role))
    throw new AppError('forbidden', 'This needs the admin role in the account')
  if (!row.deleted) throw notFound('Staff member')
}
