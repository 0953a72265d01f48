// A forgotten password: a single-use reset link (30 minutes) emailed on request, then the new
// password set with it. The request answers the same whether or not the address has a user.
import { userActor } from '../audit/audit.ts'
import { sendMail } from '../mail/jobs.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { consumeUserToken } from './email-tokens.ts'
import { sendPasswordResetEmail } from './jobs.ts'
import { assertStrongPassword } from './password-policy.ts'
import { hashPassword } from './passwords.ts'
import { revokeAllSessions } from './sessions.ts'
import { markVerified, setPasswordHash } from './users.ts'

/** Queues the reset email; the lookup happens in the job, so an unknown address sends nothing. */
export async function requestPasswordReset(
  ctx: Pick<AuthContext, 'db' | 'jobs'>,
  email: string,
): Promise<void> {
  await ctx.jobs.enqueue(ctx.db, sendPasswordResetEmail, { email })
}

/**
 * Spends a reset token and sets the new password; the user becomes verified, every session of
 * theirs ends, and a "password changed" email is queued.
 */
export async function resetPassword(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock' | 'jobs'>,
  input: { token: string; new_password: string },
  ip: string,
): Promise<void> {
  const { token, new_password } = input
  assertStrongPassword(new_password, ctx.config.PASSWORD_MIN_LENGTH, [], 'body.new_password')
  // Hashed before the transaction: no argon2 while a connection is held.
  const passwordHash = await hashPassword(new_password)
  const now = ctx.clock.now()
  await ctx.db.transaction(async (tx) => {
    const userId = await consumeUserToken(tx, token, 'reset_password', now)
    await setPasswordHash(tx, userId, passwordHash, now)
    // Following the emailed link proves the address, as a verification link would.
    const user = await markVerified(tx, userId, now)
    await revokeAllSessions(tx, userId, 'password_reset', now)
    await auditAuthEvent(tx, {
      action: 'auth.password_reset',
      userId,
      actor: userActor(userId),
      ip,
      at: now,
    })
    await ctx.jobs.enqueue(tx, sendMail, { to: user.email, mail: { template: 'password_changed' } })
  })
}
