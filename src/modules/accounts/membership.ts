// Membership checks inside single-statement hot paths: the CTEs that say whether the acting user
// is active in a live session and what their role in the account is, and the matching refusals.
import { type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { notFound } from '../../core/errors.ts'
import type { Value } from '../../core/statement.ts'
import { sessionEnded, sessionLiveSql } from '../auth/sessions.ts'
import { users } from '../auth/tables.ts'
import { type Role, rolesFrom } from './roles.ts'
import { accountMembers } from './tables.ts'

/** The CTE saying whether the acting user is active in a live session (column `is_active`). */
export const activeUserCte = sql.identifier('usr')
/** The CTE holding the acting user's role in the account (column `role`), only while they are active. */
export const memberCte = sql.identifier('mem')
const isActive = sql.identifier(users.isActive.name)
const role = sql.identifier(accountMembers.role.name)

/** The caller, known or as statement slots. */
export interface CallerValue {
  userId: Value<string>
  sessionId: Value<string>
}

const u = alias(users, 'u')
const m = alias(accountMembers, 'm')

/**
 * CTEs for single-statement hot paths: `usr` (is the acting user active and the token's session
 * live) and `mem` (their role in the account, only while both hold). Select `activeUserColumn` and
 * `memberRoleColumn`, then call `assertActiveMember`.
 */
export function memberCtes(accountId: Value<string>, caller: CallerValue): SQL {
  const { userId } = caller
  return sql`${activeUserCte} as (
      select ${u.isActive} and ${sessionLiveSql(sql`${u.id}`, caller.sessionId)} as ${isActive}
      from ${users} ${u} where ${u.id} = ${userId}::uuid
    ),
    ${memberCte} as (
      select ${m.role} from ${accountMembers} ${m}, ${activeUserCte}
      where ${m.accountId} = ${accountId}::uuid and ${m.userId} = ${userId}::uuid and ${activeUserCte}.${isActive}
    )`
}

/** The acting user is active in a live session (false when unknown); needs `memberCtes`. */
export const activeUserColumn = sql`coalesce((select ${isActive} from ${activeUserCte}), false)`

/** The acting user's role in the account, null when not an (active) member; needs `memberCtes`. */
export const memberRoleColumn = sql`(select ${role} from ${memberCte})`

/** SQL condition: the acting user's role is at least `minimum`; needs `memberCtes`. */
export function memberHasRole(minimum: Role): SQL {
  const allowed = sql.join(
    rolesFrom(minimum).map((name) => sql`${name}`),
    sql`, `,
  )
  return sql`exists (select 1 from ${memberCte} where ${memberCte}.${role} in (${allowed}))`
}

/** 401 for a deactivated (or deleted) user or an ended session, 404 for a non-member: the same answers the guards give. */
export function assertActiveMember(active: unknown, role: unknown): void {
  if (!active) throw sessionEnded()
  if (!role) throw notFound('Account')
}
