// Email-based flows: verification, forgotten and changed passwords, login codes, deactivation.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { changePassword } from './change-password.ts'
import { deactivate } from './deactivate.ts'
import { authenticate, userOf } from './guards.ts'
import { sendTokens } from './issue.ts'
import { requestLoginCode, signInWithLoginCode } from './login-code.ts'
import { authRateLimit, byClientIp, identifierKey } from './rate-limits.ts'
import { requestPasswordReset, resetPassword } from './reset-password.ts'
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
import { toUser } from './users.ts'
import { requestEmailVerification, verifyEmail } from './verify-email.ts'

const tags = ['auth']
const security = [{ bearer: [] }]

export const flowRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config } = deps
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
        await requestEmailVerification(deps, userOf(req).userId)
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
      async (req) => toUser(await verifyEmail(deps, req.body.token)),
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
        await requestPasswordReset(deps, req.body.email)
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
        await resetPassword(deps, req.body, req.ip)
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
        await changePassword(deps, userOf(req), req.body, req.ip)
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
        await requestLoginCode(deps, req.body.email)
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
        const issued = await signInWithLoginCode(deps, req.body, req.ip)
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
            'Deactivates the current user: every session ends, access tokens stop working on the next request, and sign-in is refused. The account API keys the user made are revoked.',
          operationId: 'deactivate',
          security,
          response: { 204: z.null(), ...problems },
        },
        preHandler: authenticate(deps),
      },
      async (req, reply) => {
        await deactivate(deps, userOf(req).userId, req.ip)
        return reply.code(204).send(null)
      },
    )
  }
