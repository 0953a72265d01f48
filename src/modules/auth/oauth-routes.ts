// Google and GitHub sign-in: /providers says which sign-in methods this instance offers, /start
// sends the browser to the provider with a state and a PKCE challenge (kept in a short-lived
// cookie), /callback checks the state, exchanges the code and signs in: JSON tokens for an API
// client, or (started with `redirect=app`) a redirect to the web UI with the refresh cookie set.
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { problem, problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { sendTokens } from './issue.ts'
import {
  configuredClient,
  configuredProviders,
  finishOAuthSignIn,
  flowLanding,
  startOAuthSignIn,
} from './oauth-sign-in.ts'
import { authRateLimit, byClientIp } from './rate-limits.ts'
import { CallbackQuery, ProviderParams, SignInOptions, StartQuery, TokenResponse } from './schemas.ts'

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

/** Where a browser sign-in lands on the web UI: its sign-in page, which finishes it (see README). */
function appLanding(appUrl: string, params: Record<string, string>): string {
  return `${appUrl.replace(/\/+$/, '')}/sign-in?${new URLSearchParams(params)}`
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
      '/v1/auth/providers',
      {
        schema: {
          tags: ['auth'],
          summary: 'List sign-in options',
          description:
            'How people can sign in on this instance, for a sign-in page to draw its buttons: password and emailed login codes (always on), and the OAuth providers that have a client id and secret configured, each with the URL that starts its sign-in. Public.',
          operationId: 'listSignInOptions',
          response: { 200: SignInOptions, ...publicProblems },
        },
      },
      async (): Promise<SignInOptions> => ({
        password: true,
        login_code: true,
        oauth: configuredProviders(config).map(({ provider, label }) => ({
          provider,
          label,
          start_url: `/v1/auth/oauth/${provider}/start`,
        })),
      }),
    )

    app.get(
      '/v1/auth/oauth/:provider/start',
      {
        schema: {
          tags: ['auth'],
          summary: 'Start a Google or GitHub sign-in',
          description:
            'Redirects (302) to the provider with a fresh state and a PKCE (S256) challenge; the state and the code verifier are kept in an httpOnly cookie for 10 minutes. Open it in the browser, not with fetch. With `redirect=app` (the web UI) the callback ends on the UI rather than answering JSON, and `next` says where. 404 when the provider has no client id and secret configured.',
          operationId: 'oauthStart',
          params: ProviderParams,
          querystring: StartQuery,
          response: {
            302: z.null().describe("Redirect to the provider's authorization page."),
            400: problems[400],
            404: oauthProblems[404],
            429: problems[429],
          },
        },
      },
      async (req, reply) => {
        const { redirect, next } = req.query
        const { url, flow } = startOAuthSignIn(
          config,
          req.params.provider,
          redirect === 'app' ? { next: next ?? '/app' } : undefined,
        )
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
            'Where the provider sends the browser back. Checks the state against the flow cookie (400 on mismatch), exchanges the code with the PKCE verifier (401 when the provider refuses it, 503 `provider_unavailable` when it fails or times out), then signs in: the user already linked to this identity; else the user with the same email, linked only when the provider says the email is verified (409 otherwise; and when that user had not verified the address, the address becomes verified and the unproven password and its sessions are dropped); else a new user. Answers the token response, or redirects (302) to OAUTH_SUCCESS_URL with only the refresh cookie set when that is configured. Deactivated users get 401.\n\nA sign-in started with `redirect=app` ends on the web UI instead: signed in, 302 to `APP_URL/sign-in?oauth=complete&next=<path>` with only the refresh cookie set (the page gets an access token from `POST /v1/auth/refresh`); refused, 302 to `APP_URL/sign-in?oauth_error=<code>&next=<path>` with the problem code. Without its flow cookie the callback cannot know, and answers the problem.',
          operationId: 'oauthCallback',
          params: ProviderParams,
          querystring: CallbackQuery,
          response: {
            200: TokenResponse,
            302: z
              .null()
              .describe(
                'A browser sign-in (`redirect=app`): to the web UI, signed in (refresh cookie set) or with `oauth_error`; else signed in, to OAUTH_SUCCESS_URL with the refresh cookie set.',
              ),
            ...oauthProblems,
            409: problems[409],
          },
        },
        config: { rateLimit: authRateLimit(config, byClientIp), authIpCeiling: true },
      },
      async (req, reply) => {
        const { provider } = req.params
        const client = configuredClient(config, provider)
        const flow = req.cookies[flowCookie]
        // Started by the web UI: the browser ends on its sign-in page, never on a JSON answer.
        const next = flowLanding(flow)
        // The flow is single-use: whatever happens next, its cookie goes.
        clearFlow(reply)
        let issued: Awaited<ReturnType<typeof finishOAuthSignIn>>
        try {
          issued = await finishOAuthSignIn(deps, client, provider, flow, req.query, req.ip)
        } catch (error) {
          if (next === undefined || !(error instanceof AppError)) throw error
          req.log.info({ code: error.code, provider }, 'oauth sign-in refused; back to the web UI')
          return reply.redirect(appLanding(config.APP_URL, { oauth_error: error.code, next }), 302)
        }
        const tokens = await sendTokens(deps, reply, issued)
        // Redirecting, the tokens stay out of the URL: the page gets an access token from /v1/auth/refresh.
        if (next !== undefined) {
          return reply.redirect(appLanding(config.APP_URL, { oauth: 'complete', next }), 302)
        }
        if (config.OAUTH_SUCCESS_URL) return reply.redirect(config.OAUTH_SUCCESS_URL, 302)
        return tokens
      },
    )
  }
