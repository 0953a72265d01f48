// Google and GitHub sign-in: /start sends the browser to the provider with a state and a PKCE
// challenge (kept in a short-lived cookie), /callback checks the state, exchanges the code and signs in.
import { generateCodeVerifier, generateState } from 'arctic'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { digestsEqual, sha256 } from '../../core/crypto.ts'
import { AppError } from '../../core/errors.ts'
import { problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { auditSignIn } from './auth-audit.ts'
import { sendTokens, sessionPolicy } from './issue.ts'
import {
  authorizationUrl,
  exchangeCode,
  fetchProfile,
  oauthClient,
  type ProviderName,
  providerNames,
  providers,
  resolveOAuthUser,
} from './oauth.ts'
import { authRateLimit, byClientIp } from './rate-limits.ts'
import { TokenResponse } from './schemas.ts'
import { startSession } from './sessions.ts'

/** Holds `provider.state.verifier` between /start and /callback (base64url parts, no dots). */
export const flowCookie = 'oauth_flow'
export const flowCookiePath = '/v1/auth/oauth'
const flowMaxAgeSeconds = 600

const ProviderParams = z.object({
  provider: z.enum(providerNames).describe('The identity provider.'),
})

const CallbackQuery = z.object({
  code: z.string().min(1).max(2048).optional().describe('The authorization code (absent when refused).'),
  state: z.string().min(1).max(512).describe('Must equal the state /start put in the flow cookie.'),
  error: z
    .string()
    .max(200)
    .optional()
    .describe('Set by the provider when the user declined (e.g. `access_denied`).'),
})

const oauthProblems = {
  400: problems[400],
  401: problems[401],
  404: problem('`not_found`: the provider is not configured.'),
  429: problems[429],
  503: problem('`provider_unavailable`, `service_busy` or `service_unavailable`.'),
}

function readFlow(value: string | undefined) {
  const [provider, state, codeVerifier, ...rest] = (value ?? '').split('.')
  if (!provider || !state || !codeVerifier || rest.length > 0) return undefined
  return { provider, state, codeVerifier }
}

export const oauthRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config, db, clock } = deps
    const policy = sessionPolicy(config)

    const clientFor = (provider: ProviderName) => {
      const client = oauthClient(config, provider)
      if (!client) {
        throw new AppError('not_found', `Sign-in with ${providers[provider].label} is not configured`)
      }
      return client
    }
    const clearFlow = (reply: FastifyReply) =>
      reply.clearCookie(flowCookie, {
        path: flowCookiePath,
        httpOnly: true,
        sameSite: 'lax',
        secure: config.cookieSecure,
      })

    app.get(
      '/v1/auth/oauth/:provider/start',
      {
        schema: {
          tags: ['auth'],
          summary: 'Start a Google or GitHub sign-in',
          description:
            'Redirects (302) to the provider with a fresh state and a PKCE (S256) challenge; the state and the code verifier are kept in an httpOnly cookie for 10 minutes. Open it in the browser, not with fetch. 404 when the provider has no client id and secret configured.',
          operationId: 'oauthStart',
          params: ProviderParams,
          response: {
            302: z.null().describe("Redirect to the provider's authorization page."),
            400: problems[400],
            404: oauthProblems[404],
            429: problems[429],
          },
        },
      },
      async (req, reply) => {
        const { provider } = req.params
        const client = clientFor(provider)
        const state = generateState()
        const codeVerifier = generateCodeVerifier()
        const url = authorizationUrl(config, client, provider, state, codeVerifier)
        // Lax, not Strict: the provider's redirect back is a cross-site top-level GET that must carry it.
        reply.setCookie(flowCookie, `${provider}.${state}.${codeVerifier}`, {
          httpOnly: true,
          sameSite: 'lax',
          secure: config.cookieSecure,
          path: flowCookiePath,
          maxAge: flowMaxAgeSeconds,
        })
        reply.header('cache-control', 'no-store')
        return reply.redirect(url.toString(), 302)
      },
    )

    app.get(
      '/v1/auth/oauth/:provider/callback',
      {
        schema: {
          tags: ['auth'],
          summary: 'Finish a Google or GitHub sign-in',
          description:
            'Where the provider sends the browser back. Checks the state against the flow cookie (400 on mismatch), exchanges the code with the PKCE verifier (401 when the provider refuses it, 503 `provider_unavailable` when it fails or times out), then signs in: the user already linked to this identity; else the user with the same email, linked only when the provider says the email is verified (409 otherwise; and when that user had not verified the address, the address becomes verified and the unproven password and its sessions are dropped); else a new user. Answers the token response, or redirects (302) to OAUTH_SUCCESS_URL with only the refresh cookie set when that is configured. Deactivated users get 401.',
          operationId: 'oauthCallback',
          params: ProviderParams,
          querystring: CallbackQuery,
          response: {
            200: TokenResponse,
            302: z.null().describe('Signed in: redirect to OAUTH_SUCCESS_URL with the refresh cookie set.'),
            ...oauthProblems,
            409: problems[409],
          },
        },
        config: { rateLimit: authRateLimit(config, byClientIp), authIpCeiling: true },
      },
      async (req, reply) => {
        const { provider } = req.params
        const client = clientFor(provider)
        const flow = readFlow(req.cookies[flowCookie])
        // The flow is single-use: whatever happens next, its cookie goes.
        clearFlow(reply)
        if (
          !flow ||
          flow.provider !== provider ||
          !digestsEqual(sha256(flow.state), sha256(req.query.state))
        ) {
          throw new AppError(
            'validation_failed',
            'The sign-in state does not match this browser (expired or forged); start the sign-in again',
          )
        }
        const { label } = providers[provider]
        if (req.query.error || !req.query.code) {
          throw new AppError('unauthorized', `The sign-in was declined or cancelled at ${label}`)
        }
        const accessToken = await exchangeCode(config, client, provider, req.query.code, flow.codeVerifier)
        const profile = await fetchProfile(config, provider, accessToken)
        const now = clock.now()
        const issued = await db.transaction(async (tx) => {
          const user = await resolveOAuthUser(tx, profile, now, req.ip)
          const session = await startSession(tx, user.id, policy, now)
          await auditSignIn(tx, {
            userId: user.id,
            sessionId: session.familyId,
            method: `oauth_${provider}`,
            ip: req.ip,
            at: now,
          })
          return session
        })
        const tokens = await sendTokens(deps, reply, issued)
        // Redirecting, the tokens stay out of the URL: the page gets an access token from /v1/auth/refresh.
        if (config.OAUTH_SUCCESS_URL) return reply.redirect(config.OAUTH_SUCCESS_URL, 302)
        return tokens
      },
    )
  }
