import { and, desc, eq, lt, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import type { Role } from './roles.ts'
import type { Account, CreateAccountBody, UpdateAccountBody } from './schemas.ts'
import { accountMembers, accounts } from './tables.ts'

type AccountRow = typeof accounts.$inferSelect

export function toAccount(row: AccountRow, role: Role | null): Account {
  return {
    id: row.id,
    name: row.name,
    timezone: row.timezone,
    role,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

/** Creates an account with its creator as owner. */
export async function createAccount(tx: Executor, userId: string, input: CreateAccountBody, now: Date) {
  const [account] = await tx
    .insert(accounts)
    .values({
      id: newId(),
      name: input.name,
      timezone: input.timezone,
      createdBy: userId,
      createdAt: now,
      updatedAt: now,
    })
    .returning()
  if (!account) throw new Error('account insert returned nothing')
  await tx.insert(accountMembers).values({ accountId: account.id, userId, role: 'owner', createdAt: now })
  return toAccount(account, 'owner')
}

/** The accounts the user is a member of, newest first. */
export async function listAccounts(tx: Executor, userId: string, query: PaginationQuery) {
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

export async function getAccount(tx: Executor, accountId: string, role: Role | null) {
  const [row] = await tx.select().from(accounts).where(eq(accounts.id, accountId))
  if (!row) throw notFound('Account')
  return toAccount(row, role)
}

export async function updateAccount(
  tx: Executor,
  accountId: string,
  role: Role | null,
  input: UpdateAccountBody,
  now: Date,
) {
  const [row] = await tx
    .update(accounts)
    .set({
      ...(input.name !== undefined && { name: input.name }),
      ...(input.timezone !== undefined && { timezone: input.timezone }),
      updatedAt: now,
    })
    .where(eq(accounts.id, accountId))
    .returning()
  if (!row) throw notFound('Account')
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
