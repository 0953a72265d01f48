// Changing the password of a signed-in user.
import { AppError } from '../../core/errors.ts'
import { userActor } from '../audit/audit.ts'
import { sendMail } from '../mail/jobs.ts'
import { auditAuthEvent } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { assertStrongPassword } from './password-policy.ts'
import { hashPassword, verifyPassword } from './passwords.ts'
import { revokeOtherSessions } from './sessions.ts'
import { getUser, setPasswordHash } from './users.ts'

/**
 * Sets a new password after checking the current one (403 when wrong). Every other session of
 * the user ends (the caller's is kept) and a "password changed" email is queued.
 */
export async function changePassword(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock' | 'jobs'>,
  caller: { userId: string; sessionId: string },
  input: { current_password: string; new_password: string },
  ip: string,
): Promise<void> {
  const { userId, sessionId } = caller
  const { current_password, new_password } = input
  const user = await getUser(ctx.db, userId)
  if (!(await verifyPassword(user.passwordHash, current_password))) {
    throw new AppError('forbidden', 'The current password is wrong')
  }
  assertStrongPassword(
    new_password,
    ctx.config.PASSWORD_MIN_LENGTH,
    [user.email, user.username, user.name],
    'body.new_password',
  )
  // Verified, checked and hashed before the transaction: no argon2 or zxcvbn while a connection is held.
  const passwordHash = await hashPassword(new_password)
  const now = ctx.clock.now()
  await ctx.db.transaction(async (tx) => {
    await setPasswordHash(tx, userId, passwordHash, now)
    await revokeOtherSessions(tx, userId, sessionId, 'password_changed', now)
    await auditAuthEvent(tx, {
      action: 'auth.password_changed',
      userId,
      actor: userActor(userId),
      ip,
      data: { kept_session_id: sessionId },
      at: now,
    })
    await ctx.jobs.enqueue(tx, sendMail, { to: user.email, mail: { template: 'password_changed' } })
  })
}
