// Signing out ends one sign-in (refresh family): its refresh token stops working and so do its
// access tokens, on the next request.
import { userActor } from '../audit/audit.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { revokeSessionById, revokeSessionOf } from './sessions.ts'
import type { AccessClaims } from './tokens.ts'

/**
 * Ends the sign-in of a refresh token, or else of a verified access token's claims (a client that
 * only kept its access token must still be able to sign out). Unknown or already ended sessions
 * are ignored; an ended one is audited.
 */
export async function logout(
  ctx: Pick<AuthContext, 'db' | 'clock'>,
  presented: { refreshToken: string | undefined; claims: AccessClaims | null },
  ip: string,
): Promise<void> {
  const { refreshToken: token, claims } = presented
  if (!token && !claims) return
  const now = ctx.clock.now()
  await ctx.db.transaction(async (tx) => {
    const ended = token
      ? await revokeSessionOf(tx, token, now)
      : claims && (await revokeSessionById(tx, claims, now))
    if (ended) {
      await auditAuthEvent(tx, {
        action: 'auth.logout',
        userId: ended.userId,
        actor: userActor(ended.userId),
        ip,
        data: { session_id: ended.familyId },
        at: now,
      })
    }
  })
}
