// Email-based flows: verification, forgotten and changed passwords, login codes, deactivation.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { userActor } from '../audit/audit.ts'
import { sendMail } from '../mail/jobs.ts'
import { auditAuthEvent, auditSignIn, auditSignInFailure } from './auth-audit.ts'
import { consumeUserToken, verifyLoginCode } from './email-tokens.ts'
import { authenticate, principalOf } from './guards.ts'
import { sendTokens, sessionPolicy } from './issue.ts'
import { sendLoginCodeEmail, sendPasswordResetEmail, sendVerificationEmail } from './jobs.ts'
import { assertStrongPassword } from './password-policy.ts'
import { hashPassword, verifyPassword } from './passwords.ts'
import { authRateLimit, byClientIp, identifierKey } from './rate-limits.ts'
import {
  Accepted,
  changePasswordBody,
  EmailBody,
  LoginCodeBody,
  resetPasswordBody,
  TokenBodyOnly,
  TokenResponse,
  User,
} from './schemas.ts'
import { revokeAllSessions, revokeOtherSessions, startSession } from './sessions.ts'
import {
  deactivateUser,
  findActiveUserByEmail,
  getUser,
  markVerified,
  setPasswordHash,
  toUser,
} from './users.ts'

const tags = ['auth']
const security = [{ bearer: [] }]

export const flowRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, db, clock, jobs } = deps
    // Per credential (the email, normalised as login does; or the client IP), and every route here
    // counts toward the per-IP ceiling of the auth routes.
    const byEmail = {
      rateLimit: authRateLimit(config, (req) =>
        identifierKey((req.body as { email?: string } | undefined)?.email),
      ),
      authIpCeiling: true,
    }
    const byIp = { rateLimit: authRateLimit(config, byClientIp), authIpCeiling: true }
    const accepted = { status: 'accepted' as const }

    app.post(
      '/v1/auth/email/verify/request',
      {
        schema: {
          tags,
          summary: 'Send a verification email',
          description:
            'Emails the current user a link that verifies their address (valid 24 hours). 409 when already verified.',
          operationId: 'requestEmailVerification',
          security,
          response: { 202: Accepted, ...problems },
        },
        preHandler: authenticate(deps),
        config: byIp,
      },
      async (req, reply) => {
        const user = await getUser(db, principalOf(req).userId)
        if (user.isVerified) throw new AppError('conflict', 'The email is already verified')
        await jobs.enqueue(db, sendVerificationEmail, { user_id: user.id })
        return reply.code(202).send(accepted)
      },
    )

    app.post(
      '/v1/auth/email/verify',
      {
        schema: {
          tags,
          summary: 'Verify the email',
          description:
            'Consumes the `token` of a verification link (single use) and marks the user verified.',
          operationId: 'verifyEmail',
          body: TokenBodyOnly,
          response: { 200: User, ...publicProblems },
        },
        config: byIp,
      },
      async (req) => {
        const now = clock.now()
        const user = await db.transaction(async (tx) =>
          markVerified(tx, await consumeUserToken(tx, req.body.token, 'verify_email', now), now),
        )
        return toUser(user)
      },
    )

    app.post(
      '/v1/auth/password/forgot',
      {
        schema: {
          tags,
          summary: 'Request a password reset',
          description:
            'Always 202 with the same body, whether or not the email belongs to an account: the lookup and the email happen in a background job.',
          operationId: 'forgotPassword',
          body: EmailBody,
          response: { 202: Accepted, ...publicProblems },
        },
        config: byEmail,
      },
      async (req, reply) => {
        await jobs.enqueue(db, sendPasswordResetEmail, { email: req.body.email })
        return reply.code(202).send(accepted)
      },
    )

    app.post(
      '/v1/auth/password/reset',
      {
        schema: {
          tags,
          summary: 'Reset the password',
          description:
            'Consumes the `token` of a reset link (single use, 30 minutes), sets the new password, ends every session of the user and sends a "password changed" email.',
          operationId: 'resetPassword',
          body: resetPasswordBody(config.PASSWORD_MIN_LENGTH),
          response: { 204: z.null(), ...publicProblems },
        },
        config: byIp,
      },
      async (req, reply) => {
        const { token, new_password } = req.body
        assertStrongPassword(new_password, config.PASSWORD_MIN_LENGTH, [], 'body.new_password')
        // Hashed before the transaction: no argon2 while a connection is held.
        const passwordHash = await hashPassword(new_password)
        const now = clock.now()
        await db.transaction(async (tx) => {
          const userId = await consumeUserToken(tx, token, 'reset_password', now)
          await setPasswordHash(tx, userId, passwordHash, now)
          // Following the emailed link proves the address, as a verification link would.
          const user = await markVerified(tx, userId, now)
          await revokeAllSessions(tx, userId, 'password_reset', now)
          await auditAuthEvent(tx, {
            action: 'auth.password_reset',
            userId,
            actor: userActor(userId),
            ip: req.ip,
            at: now,
          })
          await jobs.enqueue(tx, sendMail, { to: user.email, mail: { template: 'password_changed' } })
        })
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/v1/auth/password/change',
      {
        schema: {
          tags,
          summary: 'Change the password',
          description:
            'Needs the current password (403 when wrong). Ends every other session of the user and sends a "password changed" email.',
          operationId: 'changePassword',
          security,
          body: changePasswordBody(config.PASSWORD_MIN_LENGTH),
          response: { 204: z.null(), ...problems },
        },
        preHandler: authenticate(deps),
        config: byIp,
      },
      async (req, reply) => {
        const { userId, sessionId } = principalOf(req)
        const { current_password, new_password } = req.body
        const user = await getUser(db, userId)
        if (!(await verifyPassword(user.passwordHash, current_password))) {
          throw new AppError('forbidden', 'The current password is wrong')
        }
        assertStrongPassword(
          new_password,
          config.PASSWORD_MIN_LENGTH,
          [user.email, user.username, user.name],
          'body.new_password',
        )
        // Verified, checked and hashed before the transaction: no argon2 or zxcvbn while a connection is held.
        const passwordHash = await hashPassword(new_password)
        const now = clock.now()
        await db.transaction(async (tx) => {
          await setPasswordHash(tx, userId, passwordHash, now)
          await revokeOtherSessions(tx, userId, sessionId, 'password_changed', now)
          await auditAuthEvent(tx, {
            action: 'auth.password_changed',
            userId,
            actor: userActor(userId),
            ip: req.ip,
            data: { kept_session_id: sessionId },
            at: now,
          })
          await jobs.enqueue(tx, sendMail, { to: user.email, mail: { template: 'password_changed' } })
        })
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/v1/auth/login-code/request',
      {
        schema: {
          tags,
          summary: 'Email a login code',
          description:
            'Always 202 with the same body. For an active account, a 6-digit code valid 10 minutes is emailed; a new request replaces the previous code.',
          operationId: 'requestLoginCode',
          body: EmailBody,
          response: { 202: Accepted, ...publicProblems },
        },
        config: byEmail,
      },
      async (req, reply) => {
        await jobs.enqueue(db, sendLoginCodeEmail, { email: req.body.email })
        return reply.code(202).send(accepted)
      },
    )

    app.post(
      '/v1/auth/login-code/verify',
      {
        schema: {
          tags,
          summary: 'Sign in with a login code',
          description:
            'Exchanges the emailed code for tokens. Single use; at most 5 tries per code; 401 for any wrong, expired or used code.',
          operationId: 'verifyLoginCode',
          body: LoginCodeBody,
          response: { 200: TokenResponse, ...publicProblems, 401: problems[401] },
        },
        config: byEmail,
      },
      async (req, reply) => {
        const now = clock.now()
        // The try is counted and committed even when the code is wrong (and the failure audited);
        // only then is 401 thrown.
        const issued = await db.transaction(async (tx) => {
          const user = await findActiveUserByEmail(tx, req.body.email)
          const ok = await verifyLoginCode(tx, user?.id, req.body.code, now)
          if (!ok || !user) {
            await auditSignInFailure(tx, {
              userId: user?.id,
              identifier: req.body.email,
              method: 'login_code',
              reason: user ? 'wrong_code' : 'unknown_user',
              ip: req.ip,
              at: now,
            })
            return undefined
          }
          const session = await startSession(tx, user.id, sessionPolicy(config), now)
          await auditSignIn(tx, {
            userId: user.id,
            sessionId: session.familyId,
            method: 'login_code',
            ip: req.ip,
            at: now,
          })
          return session
        })
        if (!issued) throw new AppError('unauthorized', 'The code is wrong, expired or already used')
        return sendTokens(deps, reply, issued)
      },
    )

    app.post(
      '/v1/auth/deactivate',
      {
        schema: {
          tags,
          summary: 'Deactivate my user',
          description:
            'Deactivates the current user: every session ends, access tokens stop working on the next request, and sign-in is refused.',
          operationId: 'deactivate',
          security,
          response: { 204: z.null(), ...problems },
        },
        preHandler: authenticate(deps),
      },
      async (req, reply) => {
        const { userId } = principalOf(req)
        const now = clock.now()
        await db.transaction(async (tx) => {
          await deactivateUser(tx, userId, now)
          await revokeAllSessions(tx, userId, 'deactivated', now)
          await auditAuthEvent(tx, {
            action: 'auth.deactivated',
            userId,
            actor: userActor(userId),
            ip: req.ip,
            at: now,
          })
        })
        return reply.code(204).send(null)
      },
    )
  }
