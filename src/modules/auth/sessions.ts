// Refresh-token sessions: a family per sign-in, a new opaque token on every use, and reuse of a
// rotated token treated as theft (the whole family is revoked), except within a few seconds of its
// rotation, when it gets a sibling pair instead (several tabs sharing one refresh cookie).
import { and, eq, isNull, type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import type { Config } from '../../config.ts'
import { newOpaqueToken, sha256 } from '../../core/crypto.ts'
import type { Executor } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import type { Value } from '../../core/statement.ts'
import { refreshFamilies, refreshTokens, users } from './tables.ts'

/** Who is calling: the token's user and the sign-in (refresh family) the token was issued for. */
export interface Caller {
  userId: string
  sessionId: string
}

/** The 401 for a deactivated user or an ended session (logout, password reset or change, deactivation). */
export const sessionEnded = () =>
  new AppError('unauthorized', 'The session has ended or the user is deactivated; sign in again')

export interface SessionPolicy {
  /** Lifetime of one refresh token, renewed by each rotation. */
  refreshTtlSeconds: number
  /** Absolute lifetime of a family, however often it is refreshed. */
  sessionMaxAgeSeconds: number
  /** How long after its rotation a refresh token presented again gets a sibling pair; 0: never. */
  reuseIntervalSeconds: number
}

/** The session lifetimes of the configuration. */
export const sessionPolicy = (
  config: Pick<Config, 'REFRESH_TOKEN_TTL' | 'SESSION_MAX_AGE' | 'REFRESH_REUSE_INTERVAL_SECONDS'>,
): SessionPolicy => ({
  refreshTtlSeconds: config.REFRESH_TOKEN_TTL,
  sessionMaxAgeSeconds: config.SESSION_MAX_AGE,
  reuseIntervalSeconds: config.REFRESH_REUSE_INTERVAL_SECONDS,
})

export interface IssuedRefresh {
  refreshToken: string
  familyId: string
  userId: string
  expiresAt: Date
}

const addSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000)
const earliest = (a: Date, b: Date) => (a < b ? a : b)

/** Starts a new session (family) for a user who just proved who they are. */
export async function startSession(
  tx: Executor,
  userId: string,
  policy: SessionPolicy,
  now: Date,
): Promise<IssuedRefresh> {
  const familyId = newId()
  const familyExpiresAt = addSeconds(now, policy.sessionMaxAgeSeconds)
  await tx
    .insert(refreshFamilies)
    .values({ id: familyId, userId, expiresAt: familyExpiresAt, createdAt: now })
  return issueToken(
    tx,
    familyId,
    userId,
    earliest(addSeconds(now, policy.refreshTtlSeconds), familyExpiresAt),
    now,
  )
}

async function issueToken(tx: Executor, familyId: string, userId: string, expiresAt: Date, now: Date) {
  const refreshToken = newOpaqueToken()
  await tx
    .insert(refreshTokens)
    .values({ id: newId(), familyId, tokenHash: sha256(refreshToken), expiresAt, createdAt: now })
  return { refreshToken, familyId, userId, expiresAt }
}

const invalidRefresh = () => new AppError('unauthorized', 'The refresh token is invalid, expired or revoked')

/**
 * Exchanges a refresh token for a new one in the same family. The token is marked rotated by an
 * atomic UPDATE, so of concurrent uses exactly one rotates it: the others wait for its row lock and
 * then find it rotated. A rotated token presented again within `reuseIntervalSeconds` of its
 * rotation gets a new sibling token (its own row; the first rotation's token cannot be handed out
 * again, as only its hash is stored), and its `rotated_at` stays, so presenting it again does not stretch
 * the interval. Outside the interval any use of a rotated token revokes the family. Callers must
 * commit even when this answers `reused`, so the revocation sticks: see `refresh`.
 */
export async function rotateSession(
  tx: Executor,
  refreshToken: string,
  policy: SessionPolicy,
  now: Date,
): Promise<IssuedRefresh | { reused: true; familyId: string; userId: string }> {
  const tokenHash = sha256(refreshToken)
  const [current] = await tx
    .update(refreshTokens)
    .set({ rotatedAt: now })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.rotatedAt)))
    .returning({ familyId: refreshTokens.familyId, expiresAt: refreshTokens.expiresAt })
  if (current) return issueChild(tx, current, policy, now)
  const [spent] = await tx
    .select({
      familyId: refreshTokens.familyId,
      expiresAt: refreshTokens.expiresAt,
      rotatedAt: refreshTokens.rotatedAt,
      userId: refreshFamilies.userId,
    })
    .from(refreshTokens)
    .innerJoin(refreshFamilies, eq(refreshFamilies.id, refreshTokens.familyId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
  if (!spent?.rotatedAt) throw invalidRefresh()
  // Several tabs refreshing with one cookie: a sibling, under the same checks as a rotation (a
  // revoked family, an ended sign-in or an expired token get none, and nothing is revoked).
  const interval = policy.reuseIntervalSeconds
  if (interval > 0 && now < addSeconds(spent.rotatedAt, interval)) {
    return issueChild(tx, spent, policy, now)
  }
  await revokeFamily(tx, spent.familyId, 'reuse_detected', now)
  return { reused: true, familyId: spent.familyId, userId: spent.userId }
}

/** A new token in the family of `parent` (a token being rotated), if the sign-in is still live. */
async function issueChild(
  tx: Executor,
  parent: { familyId: string; expiresAt: Date },
  policy: SessionPolicy,
  now: Date,
): Promise<IssuedRefresh> {
  const [family] = await tx
    .select({
      userId: refreshFamilies.userId,
      expiresAt: refreshFamilies.expiresAt,
      revokedAt: refreshFamilies.revokedAt,
      isActive: users.isActive,
    })
    .from(refreshFamilies)
    .innerJoin(users, eq(users.id, refreshFamilies.userId))
    .where(eq(refreshFamilies.id, parent.familyId))
  if (!family || family.revokedAt || family.expiresAt <= now || parent.expiresAt <= now || !family.isActive) {
    throw invalidRefresh()
  }
  return issueToken(
    tx,
    parent.familyId,
    family.userId,
    earliest(addSeconds(now, policy.refreshTtlSeconds), family.expiresAt),
    now,
  )
}

// Aliased, so the condition can sit inside statements that name refresh_families themselves.
const family = alias(refreshFamilies, 'f')

/**
 * SQL condition: the access token's session (refresh family) `sessionId` belongs to `userId` and is
 * not revoked. Guards and hot-path statements put it beside `users.is_active`, so a logout, a
 * password reset or change, or a deactivation stops that session's access tokens on the next
 * request on every instance, without a round trip of its own. `sessionId` must be a UUID (the
 * guards refuse a token whose `sid` is not one).
 */
export function sessionLiveSql(userId: SQL, sessionId: Value<string>): SQL {
  return sql`exists (select 1 from ${refreshFamilies} ${family}
    where ${family.id} = ${sessionId}::uuid and ${family.userId} = ${userId} and ${family.revokedAt} is null)`
}

/** Revokes one family; returns its user when it was live until now. */
export async function revokeFamily(
  tx: Executor,
  familyId: string,
  reason: string,
  now: Date,
): Promise<string | undefined> {
  const [row] = await tx
    .update(refreshFamilies)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(refreshFamilies.id, familyId), isNull(refreshFamilies.revokedAt)))
    .returning({ userId: refreshFamilies.userId })
  return row?.userId
}

/**
 * Revokes the family a refresh token belongs to (logout); unknown tokens are ignored. Returns the
 * ended session when one was live.
 */
export async function revokeSessionOf(
  tx: Executor,
  refreshToken: string,
  now: Date,
): Promise<{ familyId: string; userId: string } | undefined> {
  const [row] = await tx
    .update(refreshFamilies)
    .set({ revokedAt: now, revokedReason: 'logout' })
    .where(
      and(
        isNull(refreshFamilies.revokedAt),
        sql`${refreshFamilies.id} = (select ${refreshTokens.familyId} from ${refreshTokens} where ${refreshTokens.tokenHash} = ${sha256(refreshToken)})`,
      ),
    )
    .returning({ familyId: refreshFamilies.id, userId: refreshFamilies.userId })
  return row
}

/** Revokes every session of a user (password reset, deactivation). */
export async function revokeAllSessions(
  tx: Executor,
  userId: string,
  reason: string,
  now: Date,
): Promise<void> {
  await tx
    .update(refreshFamilies)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(refreshFamilies.userId, userId), isNull(refreshFamilies.revokedAt)))
}

/** Revokes the session an access token names (logout without a refresh token); only the user's own. */
export async function revokeSessionById(
  tx: Executor,
  claims: { userId: string; sessionId: string },
  now: Date,
): Promise<{ familyId: string; userId: string } | undefined> {
  const [row] = await tx
    .update(refreshFamilies)
    .set({ revokedAt: now, revokedReason: 'logout' })
    .where(
      and(
        eq(refreshFamilies.id, claims.sessionId),
        eq(refreshFamilies.userId, claims.userId),
        isNull(refreshFamilies.revokedAt),
      ),
    )
    .returning({ familyId: refreshFamilies.id, userId: refreshFamilies.userId })
  return row
}

/** Revokes every session of a user but one (a password change keeps the session that made it). */
export async function revokeOtherSessions(
  tx: Executor,
  userId: string,
  keepFamilyId: string,
  reason: string,
  now: Date,
): Promise<void> {
  await tx
    .update(refreshFamilies)
    .set({ revokedAt: now, revokedReason: reason })
    .where(
      and(
        eq(refreshFamilies.userId, userId),
        isNull(refreshFamilies.revokedAt),
        sql`${refreshFamilies.id}::text <> ${keepFamilyId}`,
      ),
    )
}
