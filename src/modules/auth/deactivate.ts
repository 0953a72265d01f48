// A user deactivating themselves.
import { userActor } from '../audit/audit.ts'
import { revokeKeysOfCreator } from '../keys/keys.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { revokeAllSessions } from './sessions.ts'
import { deactivateUser } from './users.ts'

/**
 * Deactivates the user and ends every session of theirs: access tokens stop working on the next
 * request, and sign-in is refused from then on. The account keys they made are revoked too.
 */
export async function deactivate(ctx: Pick<AuthContext, 'db' | 'clock'>, userId: string, ip: string) {
  const now = ctx.clock.now()
  await ctx.db.transaction(async (tx) => {
    await deactivateUser(tx, userId, now)
    await revokeAllSessions(tx, userId, 'deactivated', now)
    await revokeKeysOfCreator(tx, userId, null, userActor(userId), 'creator_deactivated', now)
    await auditAuthEvent(tx, {
      action: 'auth.deactivated',
      userId,
      actor: userActor(userId),
      ip,
      at: now,
    })
  })
}
