// Proving an email address: a single-use link (valid 24 hours) sent on request and at registration.
import { AppError } from '../../core/errors.ts'
import type { AuthContext } from './context.ts'
import { consumeUserToken } from './email-tokens.ts'
import { sendVerificationEmail } from './jobs.ts'
import { getUser, markVerified, type UserRow } from './users.ts'

/** Queues a verification email for the user; 409 when the address is already verified. */
export async function requestEmailVerification(
  ctx: Pick<AuthContext, 'db' | 'jobs'>,
  userId: string,
): Promise<void> {
  const user = await getUser(ctx.db, userId)
  if (user.isVerified) throw new AppError('conflict', 'The email is already verified')
  await ctx.jobs.enqueue(ctx.db, sendVerificationEmail, { user_id: user.id })
}

/** Spends the token of a verification link and marks its user verified. */
export async function verifyEmail(ctx: Pick<AuthContext, 'db' | 'clock'>, token: string): Promise<UserRow> {
  const now = ctx.clock.now()
  return ctx.db.transaction(async (tx) =>
    markVerified(tx, await consumeUserToken(tx, token, 'verify_email', now), now),
  )
}
