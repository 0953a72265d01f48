import { eq } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import { AppError } from '../../core/errors.ts'
import type { Deps } from '../../deps.ts'
import { users } from './tables.ts'
import type { AccessClaims } from './tokens.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token's claims, cached so the rate limiter and the guards verify once. */
    tokenClaims?: AccessClaims | null
    /** The authenticated, active user. */
    principal?: { userId: string; isAdmin: boolean }
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

/** The user id of a valid token, or 401. Does not touch the database (hot paths check activity in SQL). */
export async function requireToken(deps: Deps, req: FastifyRequest): Promise<string> {
  const userId = await tokenUserId(deps, req)
  if (!userId) {
    throw new AppError(
      'unauthorized',
      req.headers.authorization
        ? 'The access token is invalid or expired'
        : 'A Bearer access token is required',
    )
  }
  return userId
}

/** preHandler: a valid token of an active user (deactivation takes effect on the next request). */
export function authenticate(deps: Deps) {
  return async (req: FastifyRequest): Promise<void> => {
    const userId = await requireToken(deps, req)
    const [user] = await deps.db
      .select({ isAdmin: users.isAdmin, isActive: users.isActive })
      .from(users)
      .where(eq(users.id, userId))
    if (!user?.isActive) throw new AppError('unauthorized', 'The user is unknown or deactivated')
    req.principal = { userId, isAdmin: user.isAdmin }
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
export function principalOf(req: FastifyRequest): { userId: string; isAdmin: boolean } {
  if (!req.principal) throw new Error('route is missing the authenticate guard')
  return req.principal
}
