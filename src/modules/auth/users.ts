import { eq, or, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import { normalizeIdentifier } from './credentials.ts'
import { verifyPassword } from './passwords.ts'
import type { RegisterBody, UpdateMeBody, User } from './schemas.ts'
import { users } from './tables.ts'

export type UserRow = typeof users.$inferSelect

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    name: row.name,
    image_url: row.imageUrl,
    provider: row.provider,
    is_verified: row.isVerified,
    is_admin: row.isAdmin,
    is_active: row.isActive,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

export type Registration = { created: UserRow } | { existing: UserRow | undefined }

/**
 * Creates a local user with a password hashed beforehand (outside any transaction), or finds the
 * user who already has the email. Both answers look the same to the client, so registration never
 * tells whether an email is taken. A taken username is a 409 whatever the email, so that answer
 * does not depend on the email either. The unique indexes decide, not a pre-check.
 */
export async function registerUser(
  tx: Executor,
  input: RegisterBody,
  passwordHash: string,
  now: Date,
): Promise<Registration> {
  const [row] = await tx
    .insert(users)
    .values({
      id: newId(),
      email: input.email,
      username: input.username ?? null,
      name: input.name ?? null,
      passwordHash,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  if (row) return { created: row }
  if (input.username) {
    const [taken] = await tx
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = ${input.username.toLowerCase()}`)
    if (taken) throw new AppError('conflict', 'The username is taken; choose another one')
  }
  const [existing] = await tx
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = ${input.email.toLowerCase()}`)
  return { existing }
}

/** Why a password login failed; recorded in the audit log, never told to the caller. */
export type LoginFailure = 'unknown_user' | 'wrong_password' | 'deactivated'

export type LoginCheck =
  | { ok: true; user: UserRow }
  | { ok: false; user: UserRow | undefined; reason: LoginFailure }

/**
 * Checks a password login. The lookup is one statement on `executor` (pass the pool, not an open
 * transaction: the argon2 verification that follows must not hold a connection). An unknown user,
 * a wrong password and a deactivated user take the same hashing work; the caller answers all three
 * with the same 401.
 */
export async function checkPasswordLogin(
  executor: Executor,
  identifier: string,
  password: string,
): Promise<LoginCheck> {
  const needle = normalizeIdentifier(identifier)
  const [row] = await executor
    .select()
    .from(users)
    .where(or(sql`lower(${users.email}) = ${needle}`, sql`lower(${users.username}) = ${needle}`))
    .limit(1)
  const ok = await verifyPassword(row?.passwordHash, password)
  if (!row) return { ok: false, user: undefined, reason: 'unknown_user' }
  if (!ok) return { ok: false, user: row, reason: 'wrong_password' }
  if (!row.isActive) return { ok: false, user: row, reason: 'deactivated' }
  return { ok: true, user: row }
}

export async function getUser(tx: Executor, userId: string): Promise<UserRow> {
  const [row] = await tx.select().from(users).where(eq(users.id, userId))
  if (!row) throw notFound('User')
  return row
}

export async function updateUser(
  tx: Executor,
  userId: string,
  input: UpdateMeBody,
  now: Date,
): Promise<UserRow> {
  const [row] = await tx
    .update(users)
    .set({
      ...(input.name !== undefined && { name: input.name }),
      ...(input.username !== undefined && { username: input.username }),
      ...(input.image_url !== undefined && { imageUrl: input.image_url }),
      updatedAt: now,
    })
    .where(eq(users.id, userId))
    .returning()
  if (!row) throw notFound('User')
  return row
}

/**
 * Stores a new password hash, made with `hashPassword` before the transaction opened (the caller
 * has checked the policy and revokes sessions).
 */
export async function setPasswordHash(
  tx: Executor,
  userId: string,
  passwordHash: string,
  now: Date,
): Promise<UserRow> {
  const [row] = await tx
    .update(users)
    .set({ passwordHash, updatedAt: now })
    .where(eq(users.id, userId))
    .returning()
  if (!row) throw notFound('User')
  return row
}

export async function markVerified(tx: Executor, userId: string, now: Date): Promise<UserRow> {
  const [row] = await tx
    .update(users)
    .set({ isVerified: true, updatedAt: now })
    .where(eq(users.id, userId))
    .returning()
  if (!row) throw notFound('User')
  return row
}

/** Deactivates a user; every guard and hot-path statement checks `is_active` on each request. */
export async function deactivateUser(tx: Executor, userId: string, now: Date): Promise<void> {
  await tx.update(users).set({ isActive: false, updatedAt: now }).where(eq(users.id, userId))
}

/** An active user by email (case-insensitive), for flows that start from an email address. */
export async function findActiveUserByEmail(tx: Executor, email: string): Promise<UserRow | undefined> {
  const [row] = await tx
    .select()
    .from(users)
    .where(sql`lower(${users.email}) = ${normalizeIdentifier(email)}`)
  return row?.isActive ? row : undefined
}
