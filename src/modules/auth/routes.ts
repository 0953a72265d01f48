import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { authenticate, tokenClaims, userOf } from './guards.ts'
import { refreshCookie, refreshCookiePath, sendTokens } from './issue.ts'
import { signInWithPassword } from './login.ts'
import { logout } from './logout.ts'
import { authRateLimit, identifierKey, refreshKey } from './rate-limits.ts'
import { refreshSignIn, refreshTokenReused } from './refresh.ts'
import { register } from './register.ts'
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
import { getUser, toUser, updateUser } from './users.ts'

/** The refresh token of a request: the body's, else the cookie's. */
const presentedRefreshToken = (req: FastifyRequest): string | undefined =>
  (req.body as { refresh_token?: string } | null | undefined)?.refresh_token ?? req.cookies[refreshCookie]

export const authRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, db, clock } = deps
    const isRefreshGrant = (req: FastifyRequest) =>
      (req.body as { grant_type?: string } | undefined)?.grant_type === 'refresh_token'

    /** Rotates a refresh token; on reuse the cookie goes and the answer is 401. */
    async function refresh(req: FastifyRequest, reply: FastifyReply, token: string | undefined) {
      const result = await refreshSignIn(deps, token, req.ip)
      if ('reused' in result) {
        reply.clearCookie(refreshCookie, { path: refreshCookiePath })
        throw refreshTokenReused()
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
        await register(deps, req.body)
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
        const issued = await signInWithPassword(
          deps,
          { identifier: body.username ?? body.email ?? '', password: body.password ?? '' },
          req.ip,
        )
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
            'Exchanges a refresh token (body or cookie) for a new pair. The old one is spent: presented again within REFRESH_REUSE_INTERVAL_SECONDS of that (several tabs refreshing at once), it gets another new pair of the same sign-in; presented later, it revokes its whole sign-in and answers 401.',
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
        await logout(deps, { refreshToken: token, claims }, req.ip)
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
      async (req) => toUser(await getUser(db, userOf(req).userId)),
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
      async (req) => toUser(await updateUser(db, userOf(req).userId, req.body, clock.now())),
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
