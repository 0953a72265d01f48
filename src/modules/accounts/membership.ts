// Who may act on an account inside single-statement hot paths: the CTEs that say whether the
// credential is live (a user active in a live session, or a key neither revoked nor expired) and
// whether it reaches the account (the user's role; a key's account and scope), and the matching
// refusals. A hot statement is built once per kind of principal, with the same CTE names.
import { type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { AppError, notFound } from '../../core/errors.ts'
import type { Slots, Value } from '../../core/statement.ts'
import { sessionEnded, sessionLiveSql } from '../auth/sessions.ts'
import { users } from '../auth/tables.ts'
import { keyPrincipalCtes, keyRefused } from '../keys/credential.ts'
import { type KeyScope, missingScopeMessage } from '../keys/scopes.ts'
import { type Role, rolesFrom } from './roles.ts'
import { accountMembers } from './tables.ts'

/** The CTE saying whether the credential is live (column `is_active`). */
export const activeUserCte = sql.identifier('usr')
/** The CTE holding the principal's role in the account (column `role`), only while it is live. */
export const memberCte = sql.identifier('mem')
const isActive = sql.identifier(users.isActive.name)
const role = sql.identifier(accountMembers.role.name)
const scopeOk = sql.identifier('scope_ok')

/** A hot statement's principal: a signed-in user or an API key. */
export type PrincipalKind = 'user' | 'key'
export const principalKinds = ['user', 'key'] as const satisfies readonly PrincipalKind[]

/**
 * The credential of a request as a hot statement's values: a user's id and token session, or a
 * key's hash. The other kind's values are null (a statement only reads the slots it uses).
 */
export interface PrincipalValues {
  userId: string | null
  sessionId: string | null
  keyHash: string | null
}

/** The request's credential as parsed from its header (checked by the statement that uses it). */
export type Credential =
  | { kind: 'user'; userId: string; sessionId: string }
  | { kind: 'key'; keyHash: string }

export const principalValues = (credential: Credential): PrincipalValues =>
  credential.kind === 'user'
    ? { userId: credential.userId, sessionId: credential.sessionId, keyHash: null }
    : { userId: null, sessionId: null, keyHash: credential.keyHash }

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

/** What a hot statement needs to know of its principal, for one kind. */
export interface PrincipalSql {
  kind: PrincipalKind
  /** The `usr` and `mem` CTEs (and, for a key, the recording of its use). */
  ctes: SQL
  /** SQL condition: the principal may act with at least `minimum` (a key: it holds the scope). */
  hasRole(minimum: Role): SQL
  /** The key holds the statement's scope (always true for a user); a column expression. */
  scopeOkColumn: SQL
}

/**
 * The principal part of a hot statement built for `kind`, from the statement's slots: a user's
 * membership, or a key's reach and `scope` (the scope a key needs for this statement).
 */
export function principalSql(
  kind: PrincipalKind,
  slot: Slots<PrincipalValues & { accountId: string; now: string }>,
  scope: KeyScope,
): PrincipalSql {
  if (kind === 'user') {
    return {
      kind,
      ctes: memberCtes(slot.accountId, slot),
      hasRole: memberHasRole,
      scopeOkColumn: sql`true`,
    }
  }
  return {
    kind,
    ctes: keyPrincipalCtes(slot.accountId, slot.keyHash, slot.now, scope, {
      activeUserCte,
      memberCte,
      isActive,
      role,
      scopeOk,
    }),
    hasRole: () => sql`exists (select 1 from ${memberCte} where ${memberCte}.${scopeOk})`,
    scopeOkColumn: sql`coalesce((select ${scopeOk} from ${memberCte}), false)`,
  }
}

/** The credential is live (false when unknown); needs the principal CTEs. */
export const activeUserColumn = sql`coalesce((select ${isActive} from ${activeUserCte}), false)`

/** The principal's role in the account, null when it does not reach it; needs the principal CTEs. */
export const memberRoleColumn = sql`(select ${role} from ${memberCte})`

/** SQL condition: the acting user's role is at least `minimum`; needs `memberCtes`. */
export function memberHasRole(minimum: Role): SQL {
  const allowed = sql.join(
    rolesFrom(minimum).map((name) => sql`${name}`),
    sql`, `,
  )
  return sql`exists (select 1 from ${memberCte} where ${memberCte}.${role} in (${allowed}))`
}

/** 401 for a deactivated (or deleted) user, an ended session or a dead key, 404 for a principal that does not reach the account. */
export function assertActiveMember(active: unknown, role: unknown, kind: PrincipalKind = 'user'): void {
  if (!active) throw kind === 'key' ? keyRefused() : sessionEnded()
  if (!role) throw notFound('Account')
}

/** 403 naming the scope a key lacks. */
export function assertScope(scopeOk: unknown, scope: KeyScope): void {
  if (!scopeOk) throw new AppError('forbidden', missingScopeMessage(scope))
}
