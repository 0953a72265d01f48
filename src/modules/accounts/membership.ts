// Membership checks inside single-statement hot paths: the CTEs that say whether the acting user
// is active in a live session and what their role in the account is, and the matching refusals.
import { type SQL, sql } from 'drizzle-orm'
import { notFound } from '../../core/errors.ts'
import { type Caller, sessionEnded, sessionLiveSql } from '../auth/sessions.ts'

/**
 * CTEs for single-statement hot paths: `usr` (is the acting user active and the token's session
 * live) and `mem` (their role in the account, only while both hold). Select `activeUserColumn` and
 * `(select role from mem)`, then call `assertActiveMember`.
 */
export function memberCtes(accountId: string, caller: Caller): SQL {
  const { userId } = caller
  return sql`usr as (
      select u.is_active and ${sessionLiveSql(sql`u.id`, caller.sessionId)} as is_active
      from users u where u.id = ${userId}::uuid
    ),
    mem as (
      select m.role from account_members m, usr
      where m.account_id = ${accountId}::uuid and m.user_id = ${userId}::uuid and usr.is_active
    )`
}

export const activeUserColumn = sql`coalesce((select is_active from usr), false)`

/** 401 for a deactivated (or deleted) user or an ended session, 404 for a non-member: the same answers the guards give. */
export function assertActiveMember(active: unknown, role: unknown): void {
  if (!active) throw sessionEnded()
  if (!role) throw notFound('Account')
}
