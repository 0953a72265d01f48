import { and, desc, eq, lt, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound, uniqueViolation } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { type AuditActor, audit } from '../audit/audit.ts'
import type { Role } from './roles.ts'
import type { Account, CreateAccountBody, ListAccountsQuery, UpdateAccountBody } from './schemas.ts'
import { accountMembers, accounts, externalIdIndex } from './tables.ts'

type AccountRow = typeof accounts.$inferSelect

export function toAccount(row: AccountRow, role: Role | null): Account {
  return {
    id: row.id,
    name: row.name,
    timezone: row.timezone,
    external_id: row.externalId,
    role,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

/**
 * Only the integrating product sets external ids, with a site API key: they name its tenants, so a
 * person (who may have signed up on their own) or an account key (which a tenant makes) could
 * otherwise take another tenant's id before the product does, or probe which ids exist (409).
 */
export function assertExternalIdWriter(siteKey: boolean): void {
  if (!siteKey) {
    throw new AppError(
      'forbidden',
      'external_id is set by the integrating product, with a site API key that has accounts:write',
    )
  }
}

/**
 * Runs a write that may give an account an external id; another account holding that id (the
 * unique index decides, so concurrent writers cannot both win) is 409 `conflict`.
 */
async function claimingExternalId<T>(write: PromiseLike<T>): Promise<T> {
  try {
    return await write
  } catch (error) {
    if (uniqueViolation(error) === externalIdIndex) {
      throw new AppError('conflict', 'Another account already has this external_id', {
        field: 'external_id',
      })
    }
    throw error
  }
}

/**
 * Creates an account. A user who creates one is its owner; an account made with a site API key
 * has no member (its owner, if any, is invited by the caller). 409 when another account has its
 * external id.
 */
export async function createAccount(
  tx: Executor,
  creator: AuditActor,
  input: Omit<CreateAccountBody, 'owner_email'>,
  now: Date,
) {
  const [account] = await claimingExternalId(
    tx
      .insert(accounts)
      .values({
        id: newId(),
        name: input.name,
        timezone: input.timezone,
        externalId: input.external_id ?? null,
        createdBy: creator.userId ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
  )
  if (!account) throw new Error('account insert returned nothing')
  if (creator.type === 'user') {
    await tx
      .insert(accountMembers)
      .values({ accountId: account.id, userId: creator.userId, role: 'owner', createdAt: now })
  }
  await audit(tx, {
    actor: creator,
    accountId: account.id,
    action: 'account.created',
    subjectType: 'account',
    subjectId: account.id,
    data: { name: account.name, external_id: account.externalId },
    at: now,
  })
  return toAccount(account, creator.type === 'user' ? 'owner' : null)
}

/**
 * The accounts the user is a member of, newest first; with `external_id`, only the one that has it
 * (a page of one or none: an account the user is not a member of is not revealed).
 */
export async function listAccounts(tx: Executor, userId: string, query: ListAccountsQuery) {
  if (query.external_id !== undefined) {
    return singlePage(await findMemberAccountByExternalId(tx, userId, query.external_id))
  }
  return listMemberAccounts(tx, userId, query)
}

async function listMemberAccounts(tx: Executor, userId: string, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select({ account: accounts, role: accountMembers.role })
    .from(accountMembers)
    .innerJoin(accounts, eq(accounts.id, accountMembers.accountId))
    .where(and(eq(accountMembers.userId, userId), cursor ? lt(accounts.id, String(cursor[0])) : undefined))
    .orderBy(desc(accounts.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.account.id],
    (row) => toAccount(row.account, row.role),
  )
}

/** A lookup's answer as a list page: the account, or none, and never a next page. */
export function singlePage(account: Account | undefined): { data: Account[]; next_cursor: null } {
  return { data: account ? [account] : [], next_cursor: null }
}

/**
 * The account with this external id among those the user is a member of, with the user's role;
 * undefined when there is none or the user is not its member (the same answer, so nothing leaks).
 */
export async function findMemberAccountByExternalId(
  tx: Executor,
  userId: string,
  externalId: string,
): Promise<Account | undefined> {
  const [row] = await tx
    .select({ account: accounts, role: accountMembers.role })
    .from(accounts)
    .innerJoin(
      accountMembers,
      and(eq(accountMembers.accountId, accounts.id), eq(accountMembers.userId, userId)),
    )
    .where(eq(accounts.externalId, externalId))
  return row && toAccount(row.account, row.role)
}

/**
 * The account with this external id, whoever holds it, with no role (`role: null`): only for a
 * caller allowed to see every account, such as a site-wide API key. A site admin signed in as a
 * user is not such a caller: the list shows a user only their own accounts.
 */
export async function findAccountByExternalId(
  tx: Executor,
  externalId: string,
): Promise<Account | undefined> {
  const [row] = await tx.select().from(accounts).where(eq(accounts.externalId, externalId))
  return row && toAccount(row, null)
}

/**
 * The accounts an API key finds: by `externalId`, any account for a site key (`keyAccountId`
 * null) or only its own for an account key; without one, an account key's own account. A site key
 * must name the tenant (every account is what `GET /v1/admin/accounts` is for).
 */
export async function listKeyAccounts(
  tx: Executor,
  keyAccountId: string | null,
  externalId: string | undefined,
): Promise<{ data: Account[]; next_cursor: null }> {
  if (externalId === undefined) {
    if (keyAccountId === null) {
      throw new AppError('validation_failed', 'A site key finds an account by external_id', {
        errors: [{ location: 'querystring.external_id', message: 'required with a site key' }],
      })
    }
    const [row] = await tx.select().from(accounts).where(eq(accounts.id, keyAccountId))
    return singlePage(row && toAccount(row, null))
  }
  const found = await findAccountByExternalId(tx, externalId)
  return singlePage(keyAccountId === null || found?.id === keyAccountId ? found : undefined)
}

export async function getAccount(tx: Executor, accountId: string, role: Role | null) {
  const [row] = await tx.select().from(accounts).where(eq(accounts.id, accountId))
  if (!row) throw notFound('Account')
  return toAccount(row, role)
}

export async function updateAccount(
  tx: Executor,
  accountId: string,
  actor: AuditActor,
  role: Role | null,
  input: UpdateAccountBody,
  now: Date,
) {
  const [row] = await claimingExternalId(
    tx
      .update(accounts)
      .set({
        ...(input.name !== undefined && { name: input.name }),
        ...(input.timezone !== undefined && { timezone: input.timezone }),
        ...(input.external_id !== undefined && { externalId: input.external_id }),
        updatedAt: now,
      })
      .where(eq(accounts.id, accountId))
      .returning(),
  )
  if (!row) throw notFound('Account')
  await audit(tx, {
    actor,
    accountId,
    action: 'account.updated',
    subjectType: 'account',
    subjectId: accountId,
    data: input,
    at: now,
  })
  return toAccount(row, role)
}

/** The account's time zone, for callers in other modules. */
export async function accountTimeZone(tx: Executor, accountId: string): Promise<string> {
  const [row] = await tx
    .select({ timezone: accounts.timezone })
    .from(accounts)
    .where(eq(accounts.id, accountId))
  if (!row) throw notFound('Account')
  return row.timezone
}

export const lockAccount = (tx: Executor, accountId: string) =>
  tx.execute(sql`select 1 from accounts where id = ${accountId}::uuid for update`)
