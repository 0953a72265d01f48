import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { sendVerificationEmail } from '../jobs/definitions/auth-emails.ts'
import { sendMail } from '../jobs/definitions/send-mail.ts'
import { authenticate, principalOf } from './guards.ts'
import {
  authRateLimit as credentialRateLimit,
  refreshCookie,
  refreshCookiePath,
  sendTokens,
  sessionPolicy,
} from './issue.ts'
import { assertStrongPassword } from './password-policy.ts'
import { Jwks, RefreshBody, RegisterBody, TokenBody, TokenResponse, UpdateMeBody, User } from './schemas.ts'
import { revokeSessionOf, rotateSession, startSession } from './sessions.ts'
import { checkPasswordLogin, getUser, registerUser, toUser, updateUser } from './users.ts'

export const authRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, db, clock } = deps
    const policy = sessionPolicy(config)
    const authRateLimit = (identifier: (req: FastifyRequest) => string | undefined) =>
      credentialRateLimit(config, identifier)

    /** Rotates a refresh token; reuse of a rotated one commits the family's revocation, then answers 401. */
    async function refresh(reply: FastifyReply, token: string | undefined) {
      if (!token) throw new AppError('unauthorized', 'A refresh token is required')
      const now = clock.now()
      const result = await db.transaction((tx) => rotateSession(tx, token, policy, now))
      if ('reused' in result) {
        reply.clearCookie(refreshCookie, { path: refreshCookiePath })
        throw new AppError(
          'unauthorized',
          'The refresh token was already used; every session of this sign-in is revoked',
        )
      }
      return sendTokens(deps, reply, result)
    }

    app.post(
      '/v1/auth/register',
      {
        schema: {
          tags: ['auth'],
          summary: 'Register a user',
          description: 'Creates a local user with an argon2id password hash.',
          operationId: 'register',
          body: RegisterBody,
          response: { 201: User, ...publicProblems, 409: problems[409] },
        },
        config: { rateLimit: authRateLimit((req) => (req.body as { email?: string } | undefined)?.email) },
      },
      async (req, reply) => {
        const { email, password, username, name } = req.body
        assertStrongPassword(password, config.PASSWORD_MIN_LENGTH, [email, username, name])
        const user = await db.transaction(async (tx) => {
          const created = await registerUser(tx, req.body, clock.now())
          // Enqueued with the user: a failed registration sends nothing, a committed one is never lost.
          await deps.jobs.enqueue(tx, sendVerificationEmail, { user_id: created.id }, { key: created.id })
          await deps.jobs.enqueue(
            tx,
            sendMail,
            { to: created.email, mail: { template: 'welcome', name: created.name } },
            { key: `welcome:${created.id}` },
          )
          return created
        })
        return reply.code(201).send(toUser(user))
      },
    )

    app.post(
      '/v1/auth/token',
      {
        schema: {
          tags: ['auth'],
          summary: 'Get tokens',
          description:
            'OAuth2-style token endpoint: `grant_type=password` (username may be the email) or `grant_type=refresh_token`, as JSON or a form. Also sets the refresh token as an httpOnly cookie.',
          operationId: 'token',
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: TokenBody,
          response: { 200: TokenResponse, ...publicProblems, 401: problems[401] },
        },
        config: {
          rateLimit: authRateLimit((req) => {
            const body = req.body as { username?: string; refresh_token?: string } | undefined
            return body?.username ?? body?.refresh_token?.slice(0, 16)
          }),
        },
      },
      async (req, reply) => {
        const body = req.body
        if (body.grant_type === 'refresh_token') return refresh(reply, body.refresh_token)
        const now = clock.now()
        const issued = await db.transaction(async (tx) => {
          const user = await checkPasswordLogin(tx, body.username ?? '', body.password ?? '')
          return startSession(tx, user.id, policy, now)
        })
        return sendTokens(deps, reply, issued)
      },
    )

    app.post(
      '/v1/auth/refresh',
      {
        schema: {
          tags: ['auth'],
          summary: 'Rotate a refresh token',
          description:
            'Exchanges a refresh token (body or cookie) for a new pair. The old one is spent; presenting a spent one revokes its whole sign-in and answers 401.',
          operationId: 'refresh',
          body: RefreshBody,
          response: { 200: TokenResponse, ...publicProblems, 401: problems[401] },
        },
        config: { rateLimit: authRateLimit((req) => req.ip) },
      },
      async (req, reply) => refresh(reply, req.body?.refresh_token ?? req.cookies[refreshCookie]),
    )

    app.post(
      '/v1/auth/logout',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log out',
          description:
            'Revokes the sign-in (refresh family) of the given refresh token or cookie. Always 204.',
          operationId: 'logout',
          body: RefreshBody,
          response: { 204: z.null(), ...publicProblems },
        },
      },
      async (req, reply) => {
        const token = req.body?.refresh_token ?? req.cookies[refreshCookie]
        if (token) await revokeSessionOf(db, token, clock.now())
        reply.clearCookie(refreshCookie, { path: refreshCookiePath })
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/v1/me',
      {
        schema: {
          tags: ['me'],
          summary: 'The current user',
          operationId: 'getMe',
          security: [{ bearer: [] }],
          response: { 200: User, 401: problems[401], 429: problems[429] },
        },
        preHandler: authenticate(deps),
      },
      async (req) => toUser(await getUser(db, principalOf(req).userId)),
    )

    app.patch(
      '/v1/me',
      {
        schema: {
          tags: ['me'],
          summary: 'Update the profile',
          operationId: 'updateMe',
          security: [{ bearer: [] }],
          body: UpdateMeBody,
          response: { 200: User, ...problems },
        },
        preHandler: authenticate(deps),
      },
      async (req) => toUser(await updateUser(db, principalOf(req).userId, req.body, clock.now())),
    )

    app.get(
      '/.well-known/jwks.json',
      {
        schema: {
          tags: ['auth'],
          summary: 'Public signing keys',
          description: 'JWKS for verifying access tokens in other services.',
          operationId: 'jwks',
          response: { 200: Jwks },
        },
        config: { rateLimit: false },
      },
      async (_req, reply) => {
        reply.header('cache-control', 'public, max-age=300')
        return deps.tokens.jwks() as z.infer<typeof Jwks>
      },
    )
  }
