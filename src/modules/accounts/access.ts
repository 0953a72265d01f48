import { and, eq } from 'drizzle-orm'
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
