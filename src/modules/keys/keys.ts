// API keys: made with their secret shown once, listed by their prefix, revoked for good. The
// secret is `pgk_` + 32 random bytes (base64url); only its SHA-256 is stored.
import { and, desc, eq, isNotNull, isNull, lt } from 'drizzle-orm'
import { newOpaqueToken, sha256 } from '../../core/crypto.ts'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { type AuditActor, audit, systemActor, userActor } from '../audit/audit.ts'
import type { ApiKey, CreateApiKeyBody, CreatedApiKey } from './schemas.ts'
import { siteOnlyScopes } from './scopes.ts'
import { apiKeys } from './tables.ts'

/** Every secret starts with this, so a leaked one is recognisable (and secret scanners can match it). */
export const keySecretPrefix = 'pgk_'

/** True when a bearer credential is an API key rather than an access token. */
export const isKeySecret = (credential: string): boolean => credential.startsWith(keySecretPrefix)

/** What is stored and looked up for a secret. */
export const keyHash = (secret: string): string => sha256(secret)

type ApiKeyRow = typeof apiKeys.$inferSelect

/** Who the audit log names: the person, or the service itself for an operator's `plangate keys`. */
const actorFor = (userId: string | null): AuditActor => (userId === null ? systemActor : userActor(userId))

export function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    account_id: row.accountId,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    expires_at: row.expiresAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  }
}

/**
 * Makes a key: a site key when `accountId` is null, else a key of that account. The secret is in
 * the result only; it cannot be read again. `createdBy` is null for a key made by an operator on
 * the command line (no person signed in), audited as the system.
 */
export async function createKey(
  tx: Executor,
  input: CreateApiKeyBody,
  accountId: string | null,
  createdBy: string | null,
  now: Date,
): Promise<CreatedApiKey> {
  const scopes = [...new Set(input.scopes)]
  if (accountId !== null) {
    const siteOnly = scopes.filter((scope) => siteOnlyScopes.includes(scope))
    if (siteOnly.length > 0) {
      throw new AppError('validation_failed', `An account key cannot have ${siteOnly.join(', ')}`, {
        errors: [{ location: 'body.scopes', message: `site keys only: ${siteOnly.join(', ')}` }],
      })
    }
  }
  const expiresAt =
    input.expires_at === undefined || input.expires_at === null ? null : new Date(input.expires_at)
  if (expiresAt !== null && expiresAt <= now) {
    throw new AppError('validation_failed', 'expires_at must be in the future', {
      errors: [{ location: 'body.expires_at', message: 'must be in the future' }],
    })
  }
  const secret = `${keySecretPrefix}${newOpaqueToken()}`
  const [row] = await tx
    .insert(apiKeys)
    .values({
      id: newId(),
      name: input.name,
      prefix: secret.slice(0, keySecretPrefix.length + 8),
      hash: keyHash(secret),
      scopes,
      accountId,
      createdBy,
      createdAt: now,
      expiresAt,
    })
    .returning()
  if (!row) throw new Error('api key insert returned nothing')
  await audit(tx, {
    actor: actorFor(createdBy),
    accountId,
    action: 'api_key.created',
    subjectType: 'api_key',
    subjectId: row.id,
    data: { name: row.name, scopes: row.scopes, prefix: row.prefix },
    at: now,
  })
  return { ...toApiKey(row), key: secret }
}

/** The site keys (`accountId` null) or one account's keys, newest first, revoked ones included. */
export async function listKeys(executor: Executor, accountId: string | null, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await executor
    .select()
    .from(apiKeys)
    .where(
      and(
        accountId === null ? isNull(apiKeys.accountId) : eq(apiKeys.accountId, accountId),
        cursor ? lt(apiKeys.id, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(desc(apiKeys.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.id], toApiKey)
}

/**
 * Revokes a key for good: the next request with it is refused on every instance, since every
 * request checks its key in the database. Revoking a revoked key answers the same key again.
 * `revokedBy` is null for an operator on the command line, audited as the system.
 */
export async function revokeKey(
  tx: Executor,
  keyId: string,
  accountId: string | null,
  revokedBy: string | null,
  now: Date,
): Promise<ApiKey> {
  const owner = accountId === null ? isNull(apiKeys.accountId) : eq(apiKeys.accountId, accountId)
  const [revoked] = await tx
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(eq(apiKeys.id, keyId), owner, isNull(apiKeys.revokedAt)))
    .returning()
  if (revoked) {
    await audit(tx, {
      actor: actorFor(revokedBy),
      accountId,
      action: 'api_key.revoked',
      subjectType: 'api_key',
      subjectId: revoked.id,
      data: { name: revoked.name, prefix: revoked.prefix },
      at: now,
    })
    return toApiKey(revoked)
  }
  const [existing] = await tx
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), owner))
  if (!existing) throw notFound('API key')
  return toApiKey(existing)
}

/** Why account keys were revoked with their creator's standing (the `reason` of their `api_key.revoked` entries). */
export type CreatorGoneReason = 'creator_removed' | 'creator_left' | 'creator_demoted' | 'creator_deactivated'

/**
 * Revokes the live account keys `userId` made for `accountId` (for every account when null): an
 * account key acts for its account only while its creator can still make keys there, so whatever
 * ends that (leaving or being removed, a demotion below admin, deactivation) calls this in the
 * same transaction. Site keys and keys made by an operator on the command line (no creator) are
 * not touched. Each key is audited `api_key.revoked` with `reason`. Returns the revoked keys' ids.
 */
export async function revokeKeysOfCreator(
  tx: Executor,
  userId: string,
  accountId: string | null,
  actor: AuditActor,
  reason: CreatorGoneReason,
  now: Date,
): Promise<string[]> {
  const revoked = await tx
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(
      and(
        eq(apiKeys.createdBy, userId),
        accountId === null ? isNotNull(apiKeys.accountId) : eq(apiKeys.accountId, accountId),
        isNull(apiKeys.revokedAt),
      ),
    )
    .returning()
  for (const key of revoked) {
    await audit(tx, {
      actor,
      accountId: key.accountId,
      action: 'api_key.revoked',
      subjectType: 'api_key',
      subjectId: key.id,
      data: { name: key.name, prefix: key.prefix, reason },
      at: now,
    })
  }
  return revoked.map((key) => key.id)
}

/** A key's account (null: a site key) and whether it is revoked, for callers that know only its id; 404 if none. */
export async function keyOwner(
  executor: Executor,
  keyId: string,
): Promise<{ accountId: string | null; revoked: boolean }> {
  const [row] = await executor
    .select({ accountId: apiKeys.accountId, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .where(eq(apiKeys.id, keyId))
  if (!row) throw notFound('API key')
  return { accountId: row.accountId, revoked: row.revokedAt !== null }
}
