import { eq, sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import { type Caller, sessionEnded, sessionLiveSql } from './sessions.ts'
import { users } from './tables.ts'
import type { AccessClaims } from './tokens.ts'

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, cached so the rate limiter and the guards verify once. */
    tokenClaims?: AccessClaims | null
    /** The authenticated, active user and their live session. */
    principal?: Principal
  }
}

/** Verifies the Bearer token (once per request) and returns its claims, or null when absent/invalid. */
export async function tokenClaims(deps: Deps, req: FastifyRequest): Promise<AccessClaims | null> {
  if (req.tokenClaims !== undefined) return req.tokenClaims
  const header = req.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim()) : null
  let claims: AccessClaims | null = null
  if (match?.[1]) {
    try {
      claims = await deps.tokens.verify(match[1], deps.clock.now())
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

export interface Principal extends Caller {
  isAdmin: boolean
}

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
export function authenticate(deps: Deps) {
  return async (req: FastifyRequest): Promise<void> => {
    const caller = await requireCaller(deps, req)
    const [user] = await deps.db
      .select({
        isAdmin: users.isAdmin,
        isActive: users.isActive,
        sessionLive: sql<boolean>`${sessionLiveSql(sql`${users.id}`, caller.sessionId)}`,
      })
      .from(users)
      .where(eq(users.id, caller.userId))
    if (!user?.isActive || !user.sessionLive) throw sessionEnded()
    req.principal = { ...caller, isAdmin: user.isAdmin }
  }
}

/** preHandler: an authenticated site admin. */
export function requireAdmin(deps: Deps) {
  const auth = authenticate(deps)
  return async (req: FastifyRequest): Promise<void> => {
    await auth(req)
    if (!req.principal?.isAdmin) throw new AppError('forbidden', 'This needs a site admin')
  }
}

/** The principal set by `authenticate`; a programming error if the guard was not installed. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error('route is missing the authenticate guard')
  return req.principal
}
