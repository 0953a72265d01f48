// Registration answers the same whether or not the email is taken: a new address gets a user and
// its emails, a taken one a notice to its owner, and the caller never learns which happened.

import { sendMail } from '../mail/jobs.ts'
import type { AuthContext } from './context.ts'
import { sendVerificationEmail } from './jobs.ts'
import { assertStrongPassword } from './password-policy.ts'
import { hashPassword } from './passwords.ts'
import type { RegisterBody } from './schemas.ts'
import { registerUser } from './users.ts'

/**
 * Registers a user (or notices that the email is taken) and enqueues the emails with it, so a
 * failed registration sends nothing and a committed one is never lost.
 */
export async function register(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock' | 'jobs'>,
  input: RegisterBody,
) {
  const { email, password, username, name } = input
  assertStrongPassword(password, ctx.config.PASSWORD_MIN_LENGTH, [email, username, name])
  // The expensive hash runs on every path (same time for a new and a taken email) and
  // before the transaction, so no pooled connection waits on the CPU.
  const passwordHash = await hashPassword(password)
  const now = ctx.clock.now()
  await ctx.db.transaction(async (tx) => {
    const registration = await registerUser(tx, input, passwordHash, now)
    if ('created' in registration) {
      const { id, email: to, name: userName } = registration.created
      await ctx.jobs.enqueue(tx, sendVerificationEmail, { user_id: id }, { key: id })
      await ctx.jobs.enqueue(
        tx,
        sendMail,
        { to, mail: { template: 'welcome', name: userName } },
        { key: `welcome:${id}` },
      )
    } else if (registration.existing) {
      // One notice an hour per user, however often someone tries the address.
      const hour = Math.floor(now.getTime() / 3_600_000)
      await ctx.jobs.enqueue(
        tx,
        sendMail,
        { to: registration.existing.email, mail: { template: 'signup_attempt' } },
        { key: `signup-attempt:${registration.existing.id}:${hour}` },
      )
    }
  })
}
