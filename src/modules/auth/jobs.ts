// Mails that carry a secret. The job creates the secret (storing only its hash) and sends it, so
// the plain token or code never rests in the queue; a retry creates a fresh one.
import { eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Clock } from '../../core/clock.ts'
import type { Db } from '../../core/db.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import type { MailJobContext } from '../mail/jobs.ts'
import { renderMail } from '../mail/templates.ts'
import { issueLoginCode, issueUserToken, loginCodeMinutes, tokenLifetimeMinutes } from './email-tokens.ts'
import { users } from './tables.ts'

/** What the auth mail jobs run with. */
export interface AuthMailContext extends MailJobContext {
  db: Db
  clock: Clock
}

export const sendVerificationEmail = defineJob({
  name: 'auth.verification-email',
  payload: z.object({ user_id: z.uuid() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
})

/** Enqueued for every forgot-password request; an unknown email simply sends nothing. */
export const sendPasswordResetEmail = defineJob({
  name: 'auth.password-reset-email',
  payload: z.object({ email: z.string() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
})

/** Enqueued for every login-code request; an unknown email simply sends nothing. */
export const sendLoginCodeEmail = defineJob({
  name: 'auth.login-code-email',
  payload: z.object({ email: z.string() }),
  // A code is only useful for minutes: retry quickly, and not for long.
  retryLimit: 3,
  retryDelaySeconds: 5,
  expireInSeconds: loginCodeMinutes * 60,
})

async function activeUser(db: Db, where: { id: string } | { email: string }) {
  const [user] = await db
    .select({ id: users.id, email: users.email, isActive: users.isActive, isVerified: users.isVerified })
    .from(users)
    .where('id' in where ? eq(users.id, where.id) : sql`lower(${users.email}) = ${where.email.toLowerCase()}`)
  return user?.isActive ? user : undefined
}

export const sendVerificationEmailHandler = handleJob(
  sendVerificationEmail,
  async (ctx: AuthMailContext, { user_id }, { jobId }) => {
    const user = await activeUser(ctx.db, { id: user_id })
    if (!user || user.isVerified) return
    const token = await ctx.db.transaction((tx) =>
      issueUserToken(tx, user.id, 'verify_email', ctx.clock.now()),
    )
    await ctx.mailer.send({
      to: user.email,
      ...renderMail({ template: 'verify_email', token }, ctx.config),
      reference: jobId,
    })
  },
)

export const sendPasswordResetEmailHandler = handleJob(
  sendPasswordResetEmail,
  async (ctx: AuthMailContext, { email }, { jobId }) => {
    const user = await activeUser(ctx.db, { email })
    if (!user) return
    const token = await ctx.db.transaction((tx) =>
      issueUserToken(tx, user.id, 'reset_password', ctx.clock.now()),
    )
    await ctx.mailer.send({
      to: user.email,
      ...renderMail(
        { template: 'password_reset', token, expires_minutes: tokenLifetimeMinutes.reset_password },
        ctx.config,
      ),
      reference: jobId,
    })
  },
)

export const sendLoginCodeEmailHandler = handleJob(
  sendLoginCodeEmail,
  async (ctx: AuthMailContext, { email }, { jobId }) => {
    const user = await activeUser(ctx.db, { email })
    if (!user) return
    const code = await ctx.db.transaction((tx) => issueLoginCode(tx, user.id, ctx.clock.now()))
    await ctx.mailer.send({
      to: user.email,
      ...renderMail({ template: 'login_code', code }, ctx.config),
      reference: jobId,
    })
  },
)
