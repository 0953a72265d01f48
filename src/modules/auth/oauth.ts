// Sign-in through Google and GitHub: the provider definitions (endpoints from the configuration),
// the code exchange and profile fetch with a timeout, and the rule that maps a provider identity to
// a user (existing link, verified email, or a new user).
import {
  ArcticFetchError,
  CodeChallengeMethod,
  OAuth2Client,
  OAuth2RequestError,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
} from 'arctic'
import { and, eq, sql } from 'drizzle-orm'
import type { z } from 'zod'
import type { Config } from '../../config.ts'
import type { Executor } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import { userActor } from '../audit/audit.ts'
import { auditAuthEvent } from './auth-audit.ts'
import {
  GitHubEmails,
  GitHubUser,
  GoogleUserinfo,
  type ProviderName,
  ProviderTokenAnswer,
} from './schemas.ts'
import { revokeAllSessions } from './sessions.ts'
import { oauthAccounts, users } from './tables.ts'
import type { UserRow } from './users.ts'

/** What the account rule needs to know about the person at the provider. */
export interface OAuthProfile {
  provider: ProviderName
  providerUserId: string
  /** Null when the provider shares no address (then only an existing link can sign in). */
  email: string | null
  /** The provider vouches that the person controls `email`. */
  emailVerified: boolean
  name: string | null
  imageUrl: string | null
}

interface ProviderDefinition {
  label: string
  scopes: string[]
  credentials(config: Config): { clientId: string; clientSecret: string } | undefined
  authorizationUrl(config: Config): string
  tokenUrl(config: Config): string
  profile(config: Config, accessToken: string): Promise<OAuthProfile>
}

const userAgent = 'plangate'

/** A provider that failed, timed out or answered nonsense: 503 without its own text (logged as the cause). */
function unavailable(label: string, cause: unknown): AppError {
  const error = new AppError('provider_unavailable', `${label} did not answer as expected; try again later`)
  error.cause = cause
  return error
}

/** GET a provider API with the access token and a timeout; 5xx, network errors and timeouts are 503. */
async function getJson(
  config: Config,
  label: string,
  url: string,
  accessToken: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  try {
    const res = await fetch(url, {
      headers: {
        authorization: `Bearer ${accessToken}`,
        accept: 'application/json',
        'user-agent': userAgent,
        ...headers,
      },
      signal: AbortSignal.timeout(config.OAUTH_TIMEOUT_MS),
    })
    if (res.status >= 500) {
      await res.body?.cancel()
      throw new Error(`${url} answered ${res.status}`)
    }
    if (!res.ok) {
      await res.body?.cancel()
      return { status: res.status, body: undefined }
    }
    return { status: res.status, body: await res.json() }
  } catch (error) {
    throw unavailable(label, error)
  }
}

/** Parses a provider answer; an unexpected shape is the provider's fault (503), not the user's. */
function parseAnswer<T extends z.ZodType>(
  label: string,
  schema: T,
  answer: { status: number; body: unknown },
) {
  if (answer.status !== 200) throw unavailable(label, new Error(`unexpected status ${answer.status}`))
  const parsed = schema.safeParse(answer.body)
  if (!parsed.success) throw unavailable(label, parsed.error)
  return parsed.data as z.output<T>
}

const githubHeaders = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }

export const providers: Record<ProviderName, ProviderDefinition> = {
  google: {
    label: 'Google',
    scopes: ['openid', 'email', 'profile'],
    credentials: (config) =>
      config.GOOGLE_CLIENT_ID && config.GOOGLE_CLIENT_SECRET
        ? { clientId: config.GOOGLE_CLIENT_ID, clientSecret: config.GOOGLE_CLIENT_SECRET }
        : undefined,
    authorizationUrl: (config) => config.GOOGLE_AUTHORIZATION_URL,
    tokenUrl: (config) => config.GOOGLE_TOKEN_URL,
    async profile(config, accessToken) {
      const info = parseAnswer(
        'Google',
        GoogleUserinfo,
        await getJson(config, 'Google', config.GOOGLE_USERINFO_URL, accessToken),
      )
      return {
        provider: 'google',
        providerUserId: info.sub,
        email: info.email,
        emailVerified: info.email !== null && info.email_verified === true,
        name: info.name,
        imageUrl: info.picture,
      }
    },
  },
  github: {
    label: 'GitHub',
    scopes: ['read:user', 'user:email'],
    credentials: (config) =>
      config.GITHUB_CLIENT_ID && config.GITHUB_CLIENT_SECRET
        ? { clientId: config.GITHUB_CLIENT_ID, clientSecret: config.GITHUB_CLIENT_SECRET }
        : undefined,
    authorizationUrl: (config) => config.GITHUB_AUTHORIZATION_URL,
    tokenUrl: (config) => config.GITHUB_TOKEN_URL,
    async profile(config, accessToken) {
      const api = config.GITHUB_API_URL.replace(/\/+$/, '')
      const user = parseAnswer(
        'GitHub',
        GitHubUser,
        await getJson(config, 'GitHub', `${api}/user`, accessToken, githubHeaders),
      )
      // /user only shows the public address and never whether it is verified; /user/emails has
      // both. Without access to it (a GitHub App lacking the permission: 403/404) nothing is verified.
      const answer = await getJson(config, 'GitHub', `${api}/user/emails`, accessToken, githubHeaders)
      const emails = answer.status === 200 ? parseAnswer('GitHub', GitHubEmails, answer) : []
      const primary = emails.find((entry) => entry.primary && entry.verified)
      const publicEmail = user.email
      const email = primary?.email ?? publicEmail
      const emailVerified =
        primary !== undefined ||
        emails.some((entry) => entry.verified && entry.email.toLowerCase() === publicEmail?.toLowerCase())
      return {
        provider: 'github',
        providerUserId: String(user.id),
        email,
        emailVerified: email !== null && emailVerified,
        name: user.name ?? user.login,
        imageUrl: user.avatar_url,
      }
    },
  },
}

/** The callback URL registered at the provider. */
export const redirectUri = (config: Config, provider: ProviderName) =>
  `${config.APP_URL.replace(/\/+$/, '')}/v1/auth/oauth/${provider}/callback`

/** The provider's OAuth client, or undefined when its client id and secret are not configured. */
export function oauthClient(config: Config, provider: ProviderName): OAuth2Client | undefined {
  const credentials = providers[provider].credentials(config)
  if (!credentials) return undefined
  return new OAuth2Client(credentials.clientId, credentials.clientSecret, redirectUri(config, provider))
}

/** The provider's authorization URL for this state and PKCE (S256) code verifier. */
export function authorizationUrl(
  config: Config,
  client: OAuth2Client,
  provider: ProviderName,
  state: string,
  codeVerifier: string,
): URL {
  const definition = providers[provider]
  return client.createAuthorizationURLWithPKCE(
    definition.authorizationUrl(config),
    state,
    CodeChallengeMethod.S256,
    codeVerifier,
    definition.scopes,
  )
}

class ProviderTimeout extends Error {}

/** Arctic's token request takes no AbortSignal; a hung provider is given up on (its socket is left to close). */
async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProviderTimeout(`no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

// Errors about our own client registration: the user can do nothing about them.
const clientErrors = new Set(['invalid_client', 'unauthorized_client'])

/**
 * Exchanges the authorization code (with the PKCE verifier) for an access token. A refused code
 * (expired, reused, wrong verifier) is 401; a failing, slow or misconfigured provider is 503.
 */
export async function exchangeCode(
  config: Config,
  client: OAuth2Client,
  provider: ProviderName,
  code: string,
  codeVerifier: string,
): Promise<string> {
  const { label, tokenUrl } = providers[provider]
  const refused = () => new AppError('unauthorized', `${label} refused the authorization code; sign in again`)
  let data: object
  try {
    const tokens = await withTimeout(
      client.validateAuthorizationCode(tokenUrl(config), code, codeVerifier),
      config.OAUTH_TIMEOUT_MS,
    )
    data = tokens.data
  } catch (error) {
    if (error instanceof OAuth2RequestError && !clientErrors.has(error.code)) throw refused()
    if (
      error instanceof OAuth2RequestError ||
      error instanceof ArcticFetchError ||
      error instanceof UnexpectedResponseError ||
      error instanceof UnexpectedErrorResponseBodyError ||
      error instanceof ProviderTimeout
    ) {
      throw unavailable(label, error)
    }
    throw error
  }
  // GitHub answers a refused code with 200 and an `error` member, which the generic client accepts.
  const answer = ProviderTokenAnswer.safeParse(data)
  if (!answer.success) throw unavailable(label, answer.error)
  if ('error' in answer.data) {
    if (clientErrors.has(answer.data.error) || answer.data.error === 'incorrect_client_credentials') {
      throw unavailable(label, new Error(answer.data.error))
    }
    throw refused()
  }
  return answer.data.access_token
}

/** The signed-in person's profile at the provider. */
export function fetchProfile(config: Config, provider: ProviderName, accessToken: string) {
  return providers[provider].profile(config, accessToken)
}

const deactivated = () => new AppError('unauthorized', 'The user is deactivated')

/**
 * The user a provider identity signs in as, in the caller's transaction:
 * 1. the user already linked to (provider, provider user id);
 * 2. else the user with the same email (any case), linked now, but only when the provider says
 *    the email is verified (an unverified one is refused with 409: the person must sign in with
 *    their password); when that user had not verified the address, the provider's proof wins:
 *    the address becomes verified and the unproven password and its sessions are dropped, so
 *    whoever registered it before the owner (account pre-hijacking) loses access;
 * 3. else a new user with the provider's profile.
 * Deactivated users are refused with 401. Concurrent sign-ins are settled by the unique keys
 * (insert or nothing, then read again), never by a check before the insert.
 */
export async function resolveOAuthUser(
  tx: Executor,
  profile: OAuthProfile,
  now: Date,
  ip: string,
): Promise<UserRow> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [linked] = await tx
      .select({ user: users })
      .from(oauthAccounts)
      .innerJoin(users, eq(users.id, oauthAccounts.userId))
      .where(
        and(
          eq(oauthAccounts.provider, profile.provider),
          eq(oauthAccounts.providerUserId, profile.providerUserId),
        ),
      )
    if (linked) {
      if (!linked.user.isActive) throw deactivated()
      return linked.user
    }

    const email = profile.email
    if (!email) {
      throw new AppError(
        'unauthorized',
        `Your ${providers[profile.provider].label} account shares no email address; add one there and retry`,
      )
    }
    const [existing] = await tx
      .select()
      .from(users)
      .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    if (existing) {
      if (!profile.emailVerified) {
        throw new AppError(
          'conflict',
          `A user with this email exists and ${providers[profile.provider].label} does not vouch for the address; sign in with your password first`,
        )
      }
      if (!existing.isActive) throw deactivated()
      const [link] = await tx
        .insert(oauthAccounts)
        .values({
          provider: profile.provider,
          providerUserId: profile.providerUserId,
          userId: existing.id,
          email,
          createdAt: now,
        })
        .onConflictDoNothing()
        .returning()
      // Linked by a concurrent sign-in meanwhile: read it again.
      if (!link) continue
      await auditAuthEvent(tx, {
        action: 'auth.oauth_linked',
        userId: existing.id,
        actor: userActor(existing.id),
        ip,
        data: { provider: profile.provider, email_was_verified: existing.isVerified },
        at: now,
      })
      if (existing.isVerified) return existing
      await revokeAllSessions(tx, existing.id, 'oauth_link_unverified', now)
      const [proven] = await tx
        .update(users)
        .set({ isVerified: true, passwordHash: null, updatedAt: now })
        .where(eq(users.id, existing.id))
        .returning()
      return proven ?? existing
    }

    const [created] = await tx
      .insert(users)
      .values({
        id: newId(),
        email,
        name: profile.name,
        imageUrl: profile.imageUrl,
        provider: profile.provider,
        passwordHash: null,
        isVerified: profile.emailVerified,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning()
    // The email was taken by a concurrent registration or sign-in meanwhile: read it again.
    if (!created) continue
    const [link] = await tx
      .insert(oauthAccounts)
      .values({
        provider: profile.provider,
        providerUserId: profile.providerUserId,
        userId: created.id,
        email,
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning()
    // The identity was linked to another user meanwhile: roll the new user back rather than orphan it.
    if (!link) break
    return created
  }
  throw new AppError('conflict', 'The sign-in conflicted with a concurrent change; retry it')
}
