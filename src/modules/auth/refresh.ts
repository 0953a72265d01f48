// Refreshing a sign-in: a refresh token is spent for a new pair; presenting a spent one is
// treated as theft and ends the whole sign-in, unless it comes within REFRESH_REUSE_INTERVAL_SECONDS
// of the spending (another tab of the same browser), when it gets a sibling pair. Siblings are
// not audited, as rotations are not: they are routine, and the family's rate limit bounds them.
import { AppError } from '../../core/errors.ts'
import { anonymousActor } from '../audit/audit.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { type IssuedRefresh, rotateSession, sessionPolicy } from './sessions.ts'

/** The 401 for a refresh token that was already spent (its sign-in is revoked by then). */
export const refreshTokenReused = () =>
  new AppError('unauthorized', 'The refresh token was already used; every session of this sign-in is revoked')

/**
 * Rotates a refresh token (or issues a sibling, within the reuse interval). Reuse of a rotated one
 * commits the family's revocation (audited) and answers `{ reused: true }`, for the caller to clear
 * the cookie and throw `refreshTokenReused()`.
 */
export async function refreshSignIn(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock'>,
  token: string | undefined,
  ip: string,
): Promise<IssuedRefresh | { reused: true }> {
  if (!token) throw new AppError('unauthorized', 'A refresh token is required')
  const now = ctx.clock.now()
  const result = await ctx.db.transaction(async (tx) => {
    const rotated = await rotateSession(tx, token, sessionPolicy(ctx.config), now)
    if ('reused' in rotated) {
      await auditAuthEvent(tx, {
        action: 'auth.refresh_reuse_detected',
        userId: rotated.userId,
        actor: anonymousActor,
        ip,
        data: { session_id: rotated.familyId },
        at: now,
      })
    }
    return rotated
  })
  return 'reused' in result ? { reused: true } : result
}
