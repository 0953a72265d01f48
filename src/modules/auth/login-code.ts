// Sign-in with an emailed 6-digit code (10 minutes, 5 tries, single use).
import { AppError } from '../../core/errors.ts'
import { auditSignIn, auditSignInFailure } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { verifyLoginCode } from './email-tokens.ts'
import { sendLoginCodeEmail } from './jobs.ts'
import { type IssuedRefresh, sessionPolicy, startSession } from './sessions.ts'
import { findActiveUserByEmail } from './users.ts'

/** Queues a login code email; the lookup happens in the job, so an unknown address sends nothing. */
export async function requestLoginCode(ctx: Pick<AuthContext, 'db' | 'jobs'>, email: string): Promise<void> {
  await ctx.jobs.enqueue(ctx.db, sendLoginCodeEmail, { email })
}

/**
 * Signs in with a login code and starts a session. The try is counted and committed even when
 * the code is wrong (and the failure audited); only then is 401 thrown.
 */
export async function signInWithLoginCode(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock'>,
  input: { email: string; code: string },
  ip: string,
): Promise<IssuedRefresh> {
  const now = ctx.clock.now()
  const issued = await ctx.db.transaction(async (tx) => {
    const user = await findActiveUserByEmail(tx, input.email)
    const ok = await verifyLoginCode(tx, user?.id, input.code, now)
    if (!ok || !user) {
      await auditSignInFailure(tx, {
        userId: user?.id,
        identifier: input.email,
        method: 'login_code',
        reason: user ? 'wrong_code' : 'unknown_user',
        ip,
        at: now,
      })
      return undefined
    }
    const session = await startSession(tx, user.id, sessionPolicy(ctx.config), now)
    await auditSignIn(tx, {
      userId: user.id,
      sessionId: session.familyId,
      method: 'login_code',
      ip,
      at: now,
    })
    return session
  })
  if (!issued) throw new AppError('unauthorized', 'The code is wrong, expired or already used')
  return issued
}
