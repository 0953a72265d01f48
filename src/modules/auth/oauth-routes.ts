// Google and GitHub sign-in: /start sends the browser to the provider with a state and a PKCE
// challenge (kept in a short-lived cookie), /callback checks the state, exchanges the code and signs in.
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { sendTokens } from './issue.ts'
import { configuredClient, finishOAuthSignIn, startOAuthSignIn } from './oauth-sign-in.ts'
import { authRateLimit, byClientIp } from './rate-limits.ts'
import { CallbackQuery, ProviderParams, TokenResponse } from './schemas.ts'

/** Holds `provider.state.verifier` between /start and /callback (base64url parts, no dots). */
export const flowCookie = 'oauth_flow'
export const flowCookiePath = '/v1/auth/oauth'
const flowMaxAgeSeconds = 600

const oauthProblems = {
  400: problems[400],
  401: problems[401],
  404: problem('`not_found`: the provider is not configured.'),
  429: problems[429],
  503: problem('`provider_unavailable`, `service_busy` or `service_unavailable`.'),
}

export const oauthRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { config } = deps

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
        const { url, flow } = startOAuthSignIn(config, req.params.provider)
        // Lax, not Strict: the provider's redirect back is a cross-site top-level GET that must carry it.
        reply.setCookie(flowCookie, flow, {
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
        const client = configuredClient(config, provider)
        // The flow is single-use: whatever happens next, its cookie goes.
        clearFlow(reply)
        const issued = await finishOAuthSignIn(
          deps,
          client,
          provider,
          req.cookies[flowCookie],
          req.query,
          req.ip,
        )
        const tokens = await sendTokens(deps, reply, issued)
        // Redirecting, the tokens stay out of the URL: the page gets an access token from /v1/auth/refresh.
        if (config.OAUTH_SUCCESS_URL) return reply.redirect(config.OAUTH_SUCCESS_URL, 302)
        return tokens
      },
    )
  }
