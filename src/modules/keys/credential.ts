// Checking a key where it is used: in the guard's one query, or inside a hot path's own statement.
// Nothing is cached, so a revoked or expired key is refused by the very next request on every
// instance. `last_used_at` is written by the same statement, at most once a minute per key.
import { eq, type SQL, type SQLWrapper, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, statementRow } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { instant, statement, type Value } from '../../core/statement.ts'
import { accounts } from '../accounts/tables.ts'
import type { KeyScope } from './scopes.ts'
import { apiKeys } from './tables.ts'

const k = alias(apiKeys, 'k')

/** The 401 for a key that is unknown, revoked or expired. */
export const keyRefused = () => new AppError('unauthorized', 'The API key is invalid, revoked or expired')

/** The live key of a hash at an instant: not revoked, not expired. */
const liveKey = (hash: Value<string>, now: Value<Date>): SQL =>
  sql`${k.hash} = ${hash}::text and ${k.revokedAt} is null and (${k.expiresAt} is null or ${k.expiresAt} > ${instant(now)})`

/**
 * A CTE body that records the key's use, unless it was recorded less than a minute ago. The row is
 * taken with SKIP LOCKED: a request never waits for another one recording the same key (once a
 * minute, every request of a busy key would otherwise queue behind the one holding its row until
 * that one commits); it leaves the recording to that one.
 */
function touchKey(hash: Value<string>, now: Value<Date>): SQL {
  const stale = alias(apiKeys, 'stale')
  return sql`update ${apiKeys} set ${sql.identifier(apiKeys.lastUsedAt.name)} = ${instant(now)}
    where ${apiKeys.id} = (
      select ${stale.id} from ${apiKeys} ${stale}
      where ${stale.hash} = ${hash}::text and (${stale.lastUsedAt} is null or ${stale.lastUsedAt} < ${instant(now)} - interval '1 minute')
      for update skip locked
    )`
}

export interface VerifiedKey {
  id: string
  /** null: a site key. */
  accountId: string | null
  scopes: KeyScope[]
  /** Whether the account asked about exists (false when none was asked about). */
  accountExists: boolean
}

interface VerifyValues {
  hash: string
  now: string
  accountId: string | null
}

const verifyStatement = statement<VerifyValues>(
  (slot) => sql`with key as (
      select ${k.id}, ${k.accountId}, ${k.scopes} from ${apiKeys} ${k} where ${liveKey(slot.hash, slot.now)}
    ),
    touch as (${touchKey(slot.hash, slot.now)} and exists (select 1 from key))
    select key.id, key.account_id as "accountId", key.scopes,
      exists (select 1 from ${accounts} where ${accounts.id} = ${slot.accountId}::uuid) as "accountExists"
    from key`,
)

/** The live key of a secret's hash (null: unknown, revoked or expired), and whether `accountId` exists. */
export async function verifyKey(
  executor: Executor,
  hash: string,
  now: Date,
  accountId: string | null,
): Promise<VerifiedKey | null> {
  const row = await statementRow<VerifiedKey, VerifyValues>(executor, verifyStatement, {
    hash,
    now: now.toISOString(),
    accountId,
  })
  return row ?? null
}

// The hot paths' principal CTEs for a key, named and shaped like the membership CTEs of a user
// (accounts/membership.ts): `usr` says whether the credential is live, `mem` holds a row when it
// reaches the account (a site key reaches every existing account, an account key its own), with
// `scope_ok` saying whether it holds the statement's scope.

/**
 * CTEs `usr` (`is_active`: the key is live) and `mem` (`role` 'owner' and `scope_ok` when it
 * reaches the account), plus the use recording. `scope` is fixed when the statement is built.
 */
export function keyPrincipalCtes(
  accountId: Value<string>,
  hash: Value<string>,
  now: Value<Date>,
  scope: KeyScope,
  names: {
    activeUserCte: SQLWrapper
    memberCte: SQLWrapper
    isActive: SQLWrapper
    role: SQLWrapper
    scopeOk: SQLWrapper
  },
): SQL {
  return sql`${names.activeUserCte} as (
      select true as ${names.isActive}, ${k.accountId}, ${k.scopes} from ${apiKeys} ${k} where ${liveKey(hash, now)}
    ),
    ${names.memberCte} as (
      select 'owner'::text as ${names.role}, ${scope}::text = any(${names.activeUserCte}.scopes) as ${names.scopeOk}
      from ${names.activeUserCte}, ${accounts}
      where ${accounts.id} = ${accountId}::uuid
        and (${names.activeUserCte}.account_id is null or ${names.activeUserCte}.account_id = ${accounts.id})
    ),
    key_touch as (${touchKey(hash, now)} and exists (select 1 from ${names.activeUserCte}))`
}

/**
 * Which key a request counts against for rate limiting, by the secret's hash: looked up once a
 * minute per key and instance, and null for a secret no key has (those count against the client's
 * address, so made-up keys cannot buy fresh budgets). Only for rate limiting: the request's key is
 * still checked live by the statement or guard that uses it.
 */
export function keyIdLookup(executor: Executor, ttlMs = 60_000, maxEntries = 10_000) {
  const known = new Map<string, { id: string | null; until: number }>()
  return async (hash: string, now: number): Promise<string | null> => {
    const cached = known.get(hash)
    if (cached && cached.until > now) return cached.id
    const [row] = await executor.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.hash, hash))
    if (known.size >= maxEntries) known.clear()
    known.set(hash, { id: row?.id ?? null, until: now + ttlMs })
    return row?.id ?? null
  }
}
