// Rate limits of the auth routes, in two layers built on @fastify/rate-limit (so they move to a
// shared store unchanged):
// - per credential: AUTH_RATE_LIMIT_PER_MINUTE per client IP + identifier, the identifier normalised
//   exactly as login normalises it (route config `rateLimit`, after parsing); refresh is keyed by
//   the sign-in (refresh family) of the presented token instead, so many people behind one address
//   do not share a budget, and unknown tokens by the client IP;
// - per client IP: AUTH_IP_RATE_LIMIT_PER_MINUTE over every identifier and every auth route (route
//   config `authIpCeiling`), so spraying many usernames or registrations from one address is capped.
// The first 429 of each key and window is written to the audit log (`auth.rate_limited`).
// With REDIS_URL both layers count in Redis, each under its own name (`auth`, `auth-ip`).
import type { CreateRateLimitOptions, RateLimitOptions } from '@fastify/rate-limit'
import { eq } from 'drizzle-orm'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../../config.ts'
import { sha256 } from '../../core/crypto.ts'
import type { Executor } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import type { StoreOptions } from '../../core/rate-limit-store.ts'
import type { Deps } from '../../deps.ts'
import { anonymousActor } from '../audit/audit.ts'
import { auditAuthEvent } from './auth-audit.ts'
import { normalizeIdentifier } from './credentials.ts'
import { refreshTokens } from './tables.ts'

type Lockout = 'per_ip' | 'per_identifier'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route counts toward the per-IP ceiling of the auth routes; a function decides per
     * request (the token endpoint's refresh grant is keyed by its token alone).
     */
    authIpCeiling?: boolean | ((req: FastifyRequest) => boolean)
  }
  interface FastifyRequest {
    /** Set when this request was refused by an auth rate limit, for the audit log. */
    authLockout?: { limit: Lockout; key: string }
  }
}

const windowMs = 60_000

/** The key part of a sign-in identifier (email or username), as login normalises it. */
export const identifierKey = (value: string | undefined): string => `id:${normalizeIdentifier(value ?? '')}`

/**
 * The key part of a refresh: the sign-in (refresh family) the token belongs to, so rotating does
 * not buy a fresh budget and people behind one address do not share one. A token that belongs to
 * no sign-in (guessed, garbage) and a request without one are keyed by the client IP instead, so
 * guessing is capped per address. One indexed read; refresh is not a hot path.
 */
export async function refreshKey(db: Executor, token: string | undefined): Promise<string> {
  if (!token) return 'refresh-none'
  const [row] = await db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256(token)))
  return row ? `refresh:${row.familyId}` : 'refresh-unknown'
}

/**
 * Route config for a credential endpoint: AUTH_RATE_LIMIT_PER_MINUTE per key (a sign-in's
 * refreshes: REFRESH_RATE_LIMIT_PER_MINUTE). `key` names what the attempt is for (see
 * `identifierKey`, `refreshKey`); identifier keys are combined with the client IP (TRUST_PROXY
 * decides what it is), a sign-in's refresh key is not. Runs after parsing.
 */
export function authRateLimit(
  config: Config,
  key: (req: FastifyRequest) => string | Promise<string>,
): RateLimitOptions | false {
  if (config.AUTH_RATE_LIMIT_PER_MINUTE === 0) return false
  const options: RateLimitOptions & StoreOptions = {
    nameSpace: 'auth',
    // A sign-in's own refreshes have a budget of their own (a page load each); 0 lifts it.
    max: (_req: FastifyRequest, limiterKey: string) =>
      limiterKey.startsWith('auth:refresh:')
        ? config.REFRESH_RATE_LIMIT_PER_MINUTE || Number.MAX_SAFE_INTEGER
        : config.AUTH_RATE_LIMIT_PER_MINUTE,
    timeWindow: windowMs,
    hook: 'preHandler',
    keyGenerator: async (req: FastifyRequest) => {
      const part = await key(req)
      return part.startsWith('refresh:') ? `auth:${part}` : `auth:${req.ip}:${part}`
    },
    onExceeded: (req: FastifyRequest, limiterKey: string) => {
      req.authLockout = { limit: 'per_identifier', key: limiterKey }
    },
  }
  return options
}

/** Every request to the route counts toward the per-IP ceiling. */
export const byClientIp = (req: FastifyRequest): string => `ip:${req.ip}`

/**
 * Installs the per-IP ceiling on every route whose config sets `authIpCeiling`, and the audit of
 * lockouts. Call after @fastify/rate-limit is registered and before the routes.
 */
export function installAuthRateLimits(app: FastifyInstance, deps: Deps): void {
  const { config } = deps
  const max = config.AUTH_IP_RATE_LIMIT_PER_MINUTE
  const ceilingOptions: CreateRateLimitOptions & StoreOptions = {
    nameSpace: 'auth-ip',
    max,
    timeWindow: windowMs,
    keyGenerator: (req) => `auth-ip:${req.ip}`,
  }
  const limiter = max > 0 ? app.createRateLimit(ceilingOptions) : undefined

  const ceiling = async (req: FastifyRequest, reply: { header(name: string, value: unknown): unknown }) => {
    const applies = req.routeOptions.config.authIpCeiling
    if (!limiter || !applies || (typeof applies === 'function' && !applies(req))) return
    const result = await limiter(req)
    if (result.isAllowed || !result.isExceeded) return
    reply.header('ratelimit-limit', result.max)
    reply.header('ratelimit-remaining', 0)
    reply.header('ratelimit-reset', result.ttlInSeconds)
    reply.header('retry-after', result.ttlInSeconds)
    req.authLockout = { limit: 'per_ip', key: result.key }
    throw new AppError(
      'rate_limited',
      `Too many sign-in attempts from this address; retry in ${result.ttlInSeconds} s`,
    )
  }

  app.addHook('onRoute', (route) => {
    if (!route.config?.authIpCeiling) return
    // First among the route's preHandlers: a capped address costs no guard query and no hashing.
    const existing = route.preHandler
    route.preHandler = existing === undefined ? [ceiling] : [ceiling, ...[existing].flat()]
  })

  // One audit entry per locked-out key and window, written after the answer went out, so a flood
  // of refused requests neither slows down nor fills the audit log.
  const recorded = new Map<string, number>()
  app.addHook('onResponse', async (req, reply) => {
    const lockout = req.authLockout
    if (!lockout || reply.statusCode !== 429) return
    const now = deps.clock.now()
    const until = recorded.get(lockout.key)
    if (until !== undefined && until > now.getTime()) return
    if (recorded.size >= 10_000) recorded.delete(recorded.keys().next().value as string)
    recorded.set(lockout.key, now.getTime() + windowMs)
    try {
      await auditAuthEvent(deps.db, {
        action: 'auth.rate_limited',
        actor: anonymousActor,
        ip: req.ip,
        data: { limit: lockout.limit, route: req.routeOptions.url ?? null, method: req.method },
        at: now,
      })
    } catch (err) {
      req.log.warn({ err }, 'could not audit a rate-limit lockout')
    }
  })
}
