// Mails that carry a secret. The job creates the secret (storing only its hash) and sends it, so
// the plain token or code never rests in the queue; a retry creates a fresh one.
import { eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Deps } from '../../../deps.ts'
import {
  issueLoginCode,
  issueUserToken,
  loginCodeMinutes,
  tokenLifetimeMinutes,
} from '../../auth/email-tokens.ts'
import { users } from '../../auth/tables.ts'
import { renderMail } from '../../mail/templates.ts'
import { defineJob } from '../define.ts'

async function activeUser(deps: Deps, where: { id: string } | { email: string }) {
  const [user] = await deps.db
    .select({ id: users.id, email: users.email, isActive: users.isActive, isVerified: users.isVerified })
    .from(users)
    .where('id' in where ? eq(users.id, where.id) : sql`lower(${users.email}) = ${where.email.toLowerCase()}`)
  return user?.isActive ? user : undefined
}

export const sendVerificationEmail = defineJob({
  name: 'auth.verification-email',
  payload: z.object({ user_id: z.uuid() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
  async handler({ deps, jobId }, { user_id }) {
    const user = await activeUser(deps, { id: user_id })
    if (!user || user.isVerified) return
    const token = await deps.db.transaction((tx) =>
      issueUserToken(tx, user.id, 'verify_email', deps.clock.now()),
    )
    await deps.mailer.send({
      to: user.email,
      ...renderMail({ template: 'verify_email', token }, deps.config),
      reference: jobId,
    })
  },
})

/** Enqueued for every forgot-password request; an unknown email simply sends nothing. */
export const sendPasswordResetEmail = defineJob({
  name: 'auth.password-reset-email',
  payload: z.object({ email: z.string() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
  async handler({ deps, jobId }, { email }) {
    const user = await activeUser(deps, { email })
    if (!user) return
    const token = await deps.db.transaction((tx) =>
      issueUserToken(tx, user.id, 'reset_password', deps.clock.now()),
    )
    await deps.mailer.send({
      to: user.email,
      ...renderMail(
        { template: 'password_reset', token, expires_minutes: tokenLifetimeMinutes.reset_password },
        deps.config,
      ),
      reference: jobId,
    })
  },
})

/** Enqueued for every login-code request; an unknown email simply sends nothing. */
export const sendLoginCodeEmail = defineJob({
  name: 'auth.login-code-email',
  payload: z.object({ email: z.string() }),
  // A code is only useful for minutes: retry quickly, and not for long.
  retryLimit: 3,
  retryDelaySeconds: 5,
  expireInSeconds: loginCodeMinutes * 60,
  async handler({ deps, jobId }, { email }) {
    const user = await activeUser(deps, { email })
    if (!user) return
    const code = await deps.db.transaction((tx) => issueLoginCode(tx, user.id, deps.clock.now()))
    await deps.mailer.send({
      to: user.email,
      ...renderMail({ template: 'login_code', code }, deps.config),
      reference: jobId,
    })
  },
})
