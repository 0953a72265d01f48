import { eq, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { AppError, notFound } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import type { Credential } from '../accounts/membership.ts'
import { type AuditActor, keyActor, userActor } from '../audit/audit.ts'
import { keyRefused, type VerifiedKey, verifyKey } from '../keys/credential.ts'
import { isKeySecret, keyHash } from '../keys/keys.ts'
import { type KeyScope, missingScopeMessage } from '../keys/scopes.ts'
import { type Caller, sessionEnded, sessionLiveSql } from './sessions.ts'
import { users } from './tables.ts'
import type { AccessClaims } from './tokens.ts'

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, cached so the rate limiter and the guards verify once. */
    tokenClaims?: AccessClaims | null
    /** The authenticated principal: an active user in a live session, or a live API key. */
    principal?: Principal
  }
}

/** The Bearer credential of the request as sent (a token or a key), or null. */
export function bearerOf(req: FastifyRequest): string | null {
  const header = req.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim()) : null
  return match?.[1] ?? null
}

/** Verifies the Bearer token (once per request) and returns its claims, or null when absent/invalid or a key. */
export async function tokenClaims(deps: Deps, req: FastifyRequest): Promise<AccessClaims | null> {
  if (req.tokenClaims !== undefined) return req.tokenClaims
  const bearer = bearerOf(req)
  let claims: AccessClaims | null = null
  if (bearer && !isKeySecret(bearer)) {
    try {
      claims = await deps.tokens.verify(bearer, deps.clock.now())
    } catch {
      claims = null
    }
  }
  req.tokenClaims = claims
  return claims
}

/** The verified token's user id, or null. */
export async function tokenUserId(deps: Deps, req: FastifyRequest): Promise<string | null> {
  return (await tokenClaims(deps, req))?.userId ?? null
}

/** A signed-in person. */
export interface UserPrincipal extends Caller {
  kind: 'user'
  isAdmin: boolean
}

/** An API key, checked live by the guard. */
export interface KeyPrincipal {
  kind: 'key'
  keyId: string
  /** null: a site key. */
  accountId: string | null
  scopes: KeyScope[]
}

export type Principal = UserPrincipal | KeyPrincipal

/** Options of a guard: the scope an API key needs on this route; without one, keys are refused. */
export interface GuardOptions {
  scope?: KeyScope
}

/** The 403 for a key on a route for people only. */
const peopleOnly = () =>
  new AppError('forbidden', 'API keys cannot use this route; it is for signed-in people')

/**
 * The request's credential without touching the database: an access token verified by its
 * signature, or an API key by its shape (`pgk_…`). Whoever uses it checks in its own statement
 * that it is live (`sessionLiveSql` for a token's session, `keys/credential.ts` for a key).
 */
export async function requireCredential(deps: Deps, req: FastifyRequest): Promise<Credential> {
  const bearer = bearerOf(req)
  if (bearer && isKeySecret(bearer)) return { kind: 'key', keyHash: keyHash(bearer) }
  return { kind: 'user', ...(await requireCaller(deps, req)) }
}

/**
 * The live key of the request and what it may do here: 401 when unknown, revoked or expired; 404
 * when `accountId` is asked about and the key does not reach it (an account key of another
 * account, or no such account); 403 on a route for people, or without `scope`.
 */
export async function requireKey(
  deps: Deps,
  credential: Extract<Credential, { kind: 'key' }>,
  scope: KeyScope | undefined,
  accountId: string | null,
): Promise<VerifiedKey> {
  const key = await verifyKey(deps.db, credential.keyHash, deps.clock.now(), accountId)
  if (!key) throw keyRefused()
  if (accountId !== null && (!key.accountExists || (key.accountId !== null && key.accountId !== accountId))) {
    throw notFound('Account')
  }
  if (!scope) throw peopleOnly()
  if (!key.scopes.includes(scope)) throw new AppError('forbidden', missingScopeMessage(scope))
  return key
}

const keyPrincipal = (key: VerifiedKey): KeyPrincipal => ({
  kind: 'key',
  keyId: key.id,
  accountId: key.accountId,
  scopes: key.scopes,
})

/**
 * The caller of a valid token, or 401. Does not touch the database: whoever uses the caller checks
 * in its own statement that the user is active and the session live (`sessionLiveSql`), as the
 * guards below and the hot-path statements do.
 */
export async function requireCaller(deps: Deps, req: FastifyRequest): Promise<Caller> {
  const claims = await tokenClaims(deps, req)
  if (!claims) {
    throw new AppError(
      'unauthorized',
      req.headers.authorization
        ? 'The access token is invalid or expired'
        : 'A Bearer access token is required',
    )
  }
  // Every access token names its session; one without a usable `sid` cannot be revoked, so it is refused.
  if (!uuidPattern.test(claims.sessionId)) {
    throw new AppError('unauthorized', 'The access token is invalid or expired')
  }
  return { userId: claims.userId, sessionId: claims.sessionId }
}

/**
 * preHandler: a valid token of an active user whose session is live. One query checks both, so a
 * deactivation or a revoked session takes effect on the next request.
 */
export function authenticate(deps: Deps, options: GuardOptions = {}) {
  return async (req: FastifyRequest): Promise<void> => {
    const credential = await requireCredential(deps, req)
    if (credential.kind === 'key') {
      req.principal = keyPrincipal(await requireKey(deps, credential, options.scope, null))
      return
    }
    const caller = { userId: credential.userId, sessionId: credential.sessionId }
    const [user] = await deps.db
      .select({
        isAdmin: users.isAdmin,
        isActive: users.isActive,
        sessionLive: sql<boolean>`${sessionLiveSql(sql`${users.id}`, caller.sessionId)}`,
      })
      .from(users)
      .where(eq(users.id, caller.userId))
    if (!user?.isActive || !user.sessionLive) throw sessionEnded()
    req.principal = { kind: 'user', ...caller, isAdmin: user.isAdmin }
  }
}

/** preHandler: an authenticated site admin, or a site key with `options.scope`. */
export function requireAdmin(deps: Deps, options: GuardOptions = {}) {
  const auth = authenticate(deps, options)
  return async (req: FastifyRequest): Promise<void> => {
    await auth(req)
    const principal = principalOf(req)
    if (principal.kind === 'key') {
      if (principal.accountId !== null)
        throw new AppError('forbidden', 'This needs a site key, not an account key')
      return
    }
    if (!principal.isAdmin) throw new AppError('forbidden', 'This needs a site admin')
  }
}

/** The principal set by a guard; a programming error if none was installed. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error('route is missing the authenticate guard')
  return req.principal
}

/** The signed-in person of a route for people only (its guard refuses keys). */
export function userOf(req: FastifyRequest): UserPrincipal {
  const principal = principalOf(req)
  if (principal.kind !== 'user') throw new Error('a route for people let an API key through')
  return principal
}

/** Who the audit log names for the request's principal. */
export const actorOf = (principal: Principal): AuditActor =>
  principal.kind === 'user' ? userActor(principal.userId) : keyActor(principal.keyId)

/** The scope of a principal's idempotency keys: each user and each API key has its own. */
export const idempotencyScopeOf = (principal: Principal | Credential): string =>
  principal.kind === 'user'
    ? principal.userId
    : `key:${'keyId' in principal ? principal.keyId : principal.keyHash}`
