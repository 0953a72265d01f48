// Refreshing a sign-in: a refresh token is spent for a new pair; presenting a spent one is
// treated as theft and ends the whole sign-in.
import { AppError } from '../../core/errors.ts'
import { anonymousActor } from '../audit/audit.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { type IssuedRefresh, rotateSession, sessionPolicy } from './sessions.ts'

/** The 401 for a refresh token that was already spent (its sign-in is revoked by then). */
export const refreshTokenReused = () =>
  new AppError('unauthorized', 'The refresh token was already used; every session of this sign-in is revoked')

/**
 * Rotates a refresh token. Reuse of a rotated one commits the family's revocation (audited) and
 * answers `{ reused: true }`, for the caller to clear the cookie and throw `refreshTokenReused()`.
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
