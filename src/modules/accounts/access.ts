import { and, eq, type SQL, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { AppError, notFound } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import { requireToken } from '../auth/guards.ts'
import { users } from '../auth/tables.ts'
import { type Role, roleAtLeast } from './roles.ts'
import { accountMembers } from './tables.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's role in the route's account; null for a site admin reading a foreign account. */
    membership?: { accountId: string; role: Role | null }
  }
}

interface Options {
  /** Site admins may read (not change) accounts they are not members of. */
  adminMayRead?: boolean
}

/**
 * preHandler for `/v1/accounts/:accountId/...`: one query checks the user is active and a member.
 * Non-members get 404 (the account's existence is not revealed); a too-low role gets 403.
 */
export function requireMember(deps: Deps, minimum: Role, options: Options = {}) {
  return async (req: FastifyRequest): Promise<void> => {
    const userId = await requireToken(deps, req)
    const { accountId } = req.params as { accountId: string }
    const [row] = await deps.db
      .select({ isActive: users.isActive, isAdmin: users.isAdmin, role: accountMembers.role })
      .from(users)
      .leftJoin(
        accountMembers,
        and(eq(accountMembers.userId, users.id), eq(accountMembers.accountId, accountId)),
      )
      .where(eq(users.id, userId))
    if (!row?.isActive) throw new AppError('unauthorized', 'The user is unknown or deactivated')
    req.principal = { userId, isAdmin: row.isAdmin }
    const role = row.role as Role | null
    if (role === null) {
      if (options.adminMayRead && row.isAdmin) {
        req.membership = { accountId, role: null }
        return
      }
      throw notFound('Account')
    }
    if (!roleAtLeast(role, minimum))
      throw new AppError('forbidden', `This needs the ${minimum} role in the account`)
    req.membership = { accountId, role }
  }
}

/**
 * CTEs for single-statement hot paths: `usr` (is the acting user active) and `mem` (their role in
 * the account, only while active). Select `activeUserColumn` and `(select role from mem)`, then
 * call `assertActiveMember`.
 */
export function memberCtes(accountId: string, userId: string): SQL {
  return sql`usr as (select u.is_active from users u where u.id = ${userId}::uuid),
    mem as (
      select m.role from account_members m, usr
      where m.account_id = ${accountId}::uuid and m.user_id = ${userId}::uuid and usr.is_active
    )`
}

export const activeUserColumn = sql`coalesce((select is_active from usr), false)`

/** 401 for a deactivated (or deleted) user, 404 for a non-member: the same answers the guards give. */
export function assertActiveMember(active: unknown, role: unknown): void {
  if (!active) throw new AppError('unauthorized', 'The user is unknown or deactivated')
  if (!role) throw notFound('Account')
}
