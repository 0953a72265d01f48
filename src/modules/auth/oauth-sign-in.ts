// Google and GitHub sign-in as a use case: start hands out the provider URL with a fresh state and
// PKCE verifier (kept by the caller in a short-lived cookie), finish checks the state, exchanges
// the code and signs in the user the identity resolves to.
import { generateCodeVerifier, generateState, type OAuth2Client } from 'arctic'
import type { Config } from '../../config.ts'
import { digestsEqual, sha256 } from '../../core/crypto.ts'
import { AppError } from '../../core/errors.ts'
import { auditSignIn } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import {
  authorizationUrl,
  exchangeCode,
  fetchProfile,
  oauthClient,
  providers,
  resolveOAuthUser,
} from './oauth.ts'
import { appPathPattern, type CallbackQuery, type ProviderName, providerNames } from './schemas.ts'
import { type IssuedRefresh, sessionPolicy, startSession } from './sessions.ts'

/** The OAuth use cases read the providers' settings, so they take the whole configuration. */
export type OAuthContext = Pick<AuthContext, 'db' | 'clock'> & { config: Config }

/** The provider's client; 404 when its client id and secret are not configured. */
export function configuredClient(config: Config, provider: ProviderName): OAuth2Client {
  const client = oauthClient(config, provider)
  if (!client) {
    throw new AppError('not_found', `Sign-in with ${providers[provider].label} is not configured`)
  }
  return client
}

/** The OAuth providers that have a client id and secret, in the order sign-in pages show them. */
export function configuredProviders(config: Config): { provider: ProviderName; label: string }[] {
  return providerNames
    .filter((provider) => oauthClient(config, provider) !== undefined)
    .map((provider) => ({ provider, label: providers[provider].label }))
}

/**
 * Starts a sign-in: the provider's authorization URL for a fresh state and PKCE (S256) verifier,
 * and `flow`, the `provider.state.verifier` value the browser must bring back to the callback.
 * With `app` (a browser sign-in from the web UI), the flow carries the UI path to land on as a
 * fourth part, so the callback ends on the UI instead of answering JSON.
 */
export function startOAuthSignIn(
  config: Config,
  provider: ProviderName,
  app?: { next: string },
): { url: URL; flow: string } {
  const client = configuredClient(config, provider)
  const state = generateState()
  const codeVerifier = generateCodeVerifier()
  const url = authorizationUrl(config, client, provider, state, codeVerifier)
  const landing = app ? `.${Buffer.from(app.next).toString('base64url')}` : ''
  return { url, flow: `${provider}.${state}.${codeVerifier}${landing}` }
}

/** Parses a `provider.state.verifier[.next]` flow value (base64url parts, no dots). */
function readFlow(value: string | undefined) {
  const [provider, state, codeVerifier, next, ...rest] = (value ?? '').split('.')
  if (!provider || !state || !codeVerifier || next === '' || rest.length > 0) return undefined
  return { provider, state, codeVerifier, next }
}

/**
 * The UI path a browser sign-in lands on, from the flow cookie: undefined for an API client's
 * sign-in (no fourth part), and for a value that is not a safe path of this origin.
 */
export function flowLanding(value: string | undefined): string | undefined {
  const next = readFlow(value)?.next
  if (next === undefined) return undefined
  const path = Buffer.from(next, 'base64url').toString('utf8')
  return appPathPattern.test(path) ? path : undefined
}

/**
 * Finishes a sign-in at the callback: the state must match the flow (400 otherwise), the code is
 * exchanged with the PKCE verifier (401 when refused, 503 when the provider fails), then the
 * identity resolves to a user (see `resolveOAuthUser`) who gets a new session.
 */
export async function finishOAuthSignIn(
  ctx: OAuthContext,
  client: OAuth2Client,
  provider: ProviderName,
  flowValue: string | undefined,
  query: CallbackQuery,
  ip: string,
): Promise<IssuedRefresh> {
  const { config } = ctx
  const flow = readFlow(flowValue)
  if (!flow || flow.provider !== provider || !digestsEqual(sha256(flow.state), sha256(query.state))) {
    throw new AppError(
      'validation_failed',
      'The sign-in state does not match this browser (expired or forged); start the sign-in again',
    )
  }
  const { label } = providers[provider]
  if (query.error || !query.code) {
    throw new AppError('unauthorized', `The sign-in was declined or cancelled at ${label}`)
  }
  const accessToken = await exchangeCode(config, client, provider, query.code, flow.codeVerifier)
  const profile = await fetchProfile(config, provider, accessToken)
  const now = ctx.clock.now()
  return ctx.db.transaction(async (tx) => {
    const user = await resolveOAuthUser(tx, profile, now, ip)
    const session = await startSession(tx, user.id, sessionPolicy(config), now)
    await auditSignIn(tx, {
      userId: user.id,
      sessionId: session.familyId,
      method: `oauth_${provider}`,
      ip,
      at: now,
    })
    return session
  })
}
