// Site admins are made outside the API: at start-up (ADMIN_EMAIL, or a generated admin on a first
// run) and by `plangate create-admin`. Both go through `grantAdmin`.
import { randomBytes } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import type { Config } from '../../config.ts'
import type { Db } from '../../core/db.ts'
import { newId } from '../../core/ids.ts'
import { hashPassword } from './passwords.ts'
import { users } from './tables.ts'

/** The admin created on a first run without ADMIN_EMAIL. */
export const generatedAdminEmail = 'admin@plangate.local'

/** A password for an admin nobody chose one for, shown once. */
const generatePassword = () => randomBytes(18).toString('base64url')

/** Creates a verified site admin; false when the email is taken. */
export async function createAdmin(db: Db, email: string, password: string, now: Date): Promise<boolean> {
  const rows = await db
    .insert(users)
    .values({
      id: newId(),
      email,
      passwordHash: await hashPassword(password),
      isAdmin: true,
      isVerified: true,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: users.id })
  return rows.length > 0
}

/** Makes the user with this email (any case) a site admin; false when there is none. */
async function promote(db: Db, email: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ isAdmin: true, updatedAt: now })
    .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    .returning({ id: users.id })
  return rows.length > 0
}

export type AdminGrant =
  | { outcome: 'promoted' }
  /** `password` is the one given, or the generated one (then `generated`). */
  | { outcome: 'created'; password: string; generated: boolean }

/**
 * Makes `email` a site admin: the existing user is promoted (their password unchanged), or a
 * verified admin is created with `password`, generated when undefined.
 */
export async function grantAdmin(
  db: Db,
  email: string,
  password: string | undefined,
  now: Date,
): Promise<AdminGrant> {
  if (await promote(db, email, now)) return { outcome: 'promoted' }
  const secret = password ?? generatePassword()
  // A user registered with this email meanwhile is promoted instead.
  if (!(await createAdmin(db, email, secret, now)) && (await promote(db, email, now)))
    return { outcome: 'promoted' }
  return { outcome: 'created', password: secret, generated: password === undefined }
}

/**
 * Makes sure an admin exists. With ADMIN_EMAIL (+ ADMIN_PASSWORD) that user is created (or
 * promoted); its password is only set on creation. Without it, and with no admin at all, one is
 * created with a random password. A generated password is returned so the caller can show it once.
 */
export async function ensureAdmin(
  db: Db,
  config: Pick<Config, 'ADMIN_EMAIL' | 'ADMIN_PASSWORD'>,
  now: Date,
): Promise<{ email: string; password: string } | undefined> {
  if (config.ADMIN_EMAIL) {
    const grant = await grantAdmin(db, config.ADMIN_EMAIL, config.ADMIN_PASSWORD, now)
    return grant.outcome === 'created' && grant.generated
      ? { email: config.ADMIN_EMAIL, password: grant.password }
      : undefined
  }
  const [anyAdmin] = await db.select({ id: users.id }).from(users).where(eq(users.isAdmin, true)).limit(1)
  if (anyAdmin) return undefined
  const password = generatePassword()
  const created = await createAdmin(db, generatedAdminEmail, password, now)
  return created ? { email: generatedAdminEmail, password } : undefined
}
