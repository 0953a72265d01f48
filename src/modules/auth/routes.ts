import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { anonymousActor, userActor } from '../audit/audit.ts'
import { sendMail } from '../mail/jobs.ts'
import { auditAuthEvent, auditSignIn, auditSignInFailure } from './auth-audit.ts'
import { authenticate, principalOf, tokenClaims } from './guards.ts'
import { refreshCookie, refreshCookiePath, sendTokens, sessionPolicy } from './issue.ts'
import { sendVerificationEmail } from './jobs.ts'
import { assertStrongPassword } from './password-policy.ts'
import { hashPassword } from './passwords.ts'
import { authRateLimit, identifierKey, refreshKey } from './rate-limits.ts'
import {
  Accepted,
  Jwks,
  RefreshBody,
  registerBody,
  TokenBody,
  TokenResponse,
  UpdateMeBody,
  User,
} from './schemas.ts'
import { revokeSessionById, revokeSessionOf, rotateSession, startSession } from './sessions.ts'
import { checkPasswordLogin, getUser, registerUser, toUser, updateUser } from './users.ts'

/** The refresh token of a request: the body's, else the cookie's. */
const presentedRefreshToken = (req: FastifyRequest): string | undefined =>
  (req.body as { refresh_token?: string } | null | undefined)?.refresh_token ?? req.cookies[refreshCookie]

export const authRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, db, clock } = deps
    const policy = sessionPolicy(config)
    const isRefreshGrant = (req: FastifyRequest) =>
      (req.body as { grant_type?: string } | undefined)?.grant_type === 'refresh_token'

    /** Rotates a refresh token; reuse of a rotated one commits the family's revocation (audited), then answers 401. */
    async function refresh(req: FastifyRequest, reply: FastifyReply, token: string | undefined) {
      if (!token) throw new AppError('unauthorized', 'A refresh token is required')
      const now = clock.now()
      const result = await db.transaction(async (tx) => {
        const rotated = await rotateSession(tx, token, policy, now)
        if ('reused' in rotated) {
          await auditAuthEvent(tx, {
            action: 'auth.refresh_reuse_detected',
            userId: rotated.userId,
            actor: anonymousActor,
            ip: req.ip,
            data: { session_id: rotated.familyId },
            at: now,
          })
        }
        return rotated
      })
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
          description:
            'Always 202 with the same body, whether or not the email is taken, so registration never tells which addresses have a user. A new address gets a user (argon2id password hash), a verification email and a welcome email; a taken one gets a "someone tried to sign up with your email" notice (at most one an hour) and nothing else changes. Sign in with `POST /v1/auth/token` afterwards. A taken username is a 409, whatever the email.',
          operationId: 'register',
          body: registerBody(config.PASSWORD_MIN_LENGTH),
          response: { 202: Accepted, ...publicProblems, 409: problems[409] },
        },
        config: {
          rateLimit: authRateLimit(config, (req) =>
            identifierKey((req.body as { email?: string } | undefined)?.email),
          ),
          authIpCeiling: true,
        },
      },
      async (req, reply) => {
        const { email, password, username, name } = req.body
        assertStrongPassword(password, config.PASSWORD_MIN_LENGTH, [email, username, name])
        // The expensive hash runs on every path (same time for a new and a taken email) and
        // before the transaction, so no pooled connection waits on the CPU.
        const passwordHash = await hashPassword(password)
        const now = clock.now()
        await db.transaction(async (tx) => {
          const registration = await registerUser(tx, req.body, passwordHash, now)
          // Enqueued with the user: a failed registration sends nothing, a committed one is never lost.
          if ('created' in registration) {
            const { id, email: to, name: userName } = registration.created
            await deps.jobs.enqueue(tx, sendVerificationEmail, { user_id: id }, { key: id })
            await deps.jobs.enqueue(
              tx,
              sendMail,
              { to, mail: { template: 'welcome', name: userName } },
              { key: `welcome:${id}` },
            )
          } else if (registration.existing) {
            // One notice an hour per user, however often someone tries the address.
            const hour = Math.floor(now.getTime() / 3_600_000)
            await deps.jobs.enqueue(
              tx,
              sendMail,
              { to: registration.existing.email, mail: { template: 'signup_attempt' } },
              { key: `signup-attempt:${registration.existing.id}:${hour}` },
            )
          }
        })
        return reply.code(202).send({ status: 'accepted' as const })
      },
    )

    app.post(
      '/v1/auth/token',
      {
        schema: {
          tags: ['auth'],
          summary: 'Get tokens',
          description:
            'OAuth2-style token endpoint: `grant_type=password` (the default) with `username` (the email or the username) or, in JSON, `email`; or `grant_type=refresh_token`. JSON or a form. Also sets the refresh token as an httpOnly cookie. Rate limited per client IP + identifier (refresh: per sign-in) and per client IP over all identifiers.',
          operationId: 'token',
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: TokenBody,
          response: { 200: TokenResponse, ...publicProblems, 401: problems[401] },
        },
        config: {
          // The password grant is keyed by the user it names, the refresh grant by its sign-in.
          rateLimit: authRateLimit(config, (req) => {
            const body = req.body as { username?: string; email?: string; refresh_token?: string } | undefined
            return isRefreshGrant(req)
              ? refreshKey(db, presentedRefreshToken(req))
              : identifierKey(body?.username ?? body?.email)
          }),
          authIpCeiling: (req) => !isRefreshGrant(req),
        },
      },
      async (req, reply) => {
        const body = req.body
        if (body.grant_type === 'refresh_token') return refresh(req, reply, body.refresh_token)
        const identifier = body.username ?? body.email ?? ''
        const now = clock.now()
        // Looked up and verified before any transaction: argon2 never runs while a connection is held.
        const login = await checkPasswordLogin(db, identifier, body.password ?? '')
        if (!login.ok) {
          await auditSignInFailure(db, {
            userId: login.user?.id,
            identifier,
            method: 'password',
            reason: login.reason,
            ip: req.ip,
            at: now,
          })
          throw new AppError('unauthorized', 'Invalid username or password')
        }
        const issued = await db.transaction(async (tx) => {
          const session = await startSession(tx, login.user.id, policy, now)
          await auditSignIn(tx, {
            userId: login.user.id,
            sessionId: session.familyId,
            method: 'password',
            ip: req.ip,
            at: now,
          })
          return session
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
        config: {
          rateLimit: authRateLimit(config, (req) => refreshKey(db, presentedRefreshToken(req))),
        },
      },
      async (req, reply) => refresh(req, reply, presentedRefreshToken(req)),
    )

    app.post(
      '/v1/auth/logout',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log out',
          description:
            'Revokes the sign-in (refresh family) of the given refresh token or cookie, or else of the Bearer access token: its access tokens stop working at once. Always 204.',
          operationId: 'logout',
          body: RefreshBody,
          response: { 204: z.null(), ...publicProblems },
        },
      },
      async (req, reply) => {
        const token = presentedRefreshToken(req)
        // Without a refresh token, the session named by a valid access token is the one to end:
        // a client that only kept its access token must still be able to sign out.
        const claims = token ? null : await tokenClaims(deps, req)
        if (token || claims) {
          const now = clock.now()
          await db.transaction(async (tx) => {
            const ended = token
              ? await revokeSessionOf(tx, token, now)
              : claims && (await revokeSessionById(tx, claims, now))
            if (ended) {
              await auditAuthEvent(tx, {
                action: 'auth.logout',
                userId: ended.userId,
                actor: userActor(ended.userId),
                ip: req.ip,
                data: { session_id: ended.familyId },
                at: now,
              })
            }
          })
        }
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
