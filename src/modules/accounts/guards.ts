// The account membership guard of `/v1/accounts/:accountId/...` routes.
import { and, eq, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { AppError, notFound } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import { type GuardOptions, requireCredential, requireKey } from '../auth/guards.ts'
import { sessionEnded, sessionLiveSql } from '../auth/sessions.ts'
import { users } from '../auth/tables.ts'
import { type Role, roleAtLeast } from './roles.ts'
import { accountMembers } from './tables.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's role in the route's account; null for a site admin reading a foreign account, or a key. */
    membership?: { accountId: string; role: Role | null }
  }
}

interface Options extends GuardOptions {
  /** Site admins may read (not change) accounts they are not members of. */
  adminMayRead?: boolean
}

/**
 * preHandler for `/v1/accounts/:accountId/...`: one query checks the user is active, the token's
 * session live, and the user a member.
 * Non-members get 404 (the account's existence is not revealed); a too-low role gets 403. An API
 * key with `options.scope` is let through to an account it reaches (a site key: any account; an
 * account key: its own), with no role.
 */
export function requireMember(deps: Deps, minimum: Role, options: Options = {}) {
  return async (req: FastifyRequest): Promise<void> => {
    const credential = await requireCredential(deps, req)
    const { accountId } = req.params as { accountId: string }
    if (credential.kind === 'key') {
      const key = await requireKey(deps, credential, options.scope, accountId)
      req.principal = { kind: 'key', keyId: key.id, accountId: key.accountId, scopes: key.scopes }
      req.membership = { accountId, role: null }
      return
    }
    const caller = { userId: credential.userId, sessionId: credential.sessionId }
    const { userId } = caller
    const [row] = await deps.db
      .select({
        isActive: users.isActive,
        sessionLive: sql<boolean>`${sessionLiveSql(sql`${users.id}`, caller.sessionId)}`,
        isAdmin: users.isAdmin,
        role: accountMembers.role,
      })
      .from(users)
      .leftJoin(
        accountMembers,
        and(eq(accountMembers.userId, users.id), eq(accountMembers.accountId, accountId)),
      )
      .where(eq(users.id, userId))
    if (!row?.isActive || !row.sessionLive) throw sessionEnded()
    req.principal = { kind: 'user', ...caller, isAdmin: row.isAdmin }
    const role = row.role
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
