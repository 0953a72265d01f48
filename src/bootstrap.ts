// Start-up state every run mode needs: migrations applied, seed plans present, an admin to log in with.
import { randomBytes } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from './config.ts'
import type { Database, Db } from './core/db.ts'
import { newId } from './core/ids.ts'
import { hashPassword } from './modules/auth/passwords.ts'
import { users } from './modules/auth/tables.ts'
import { ensureSeedPlans } from './modules/plans/plans.ts'

export const generatedAdminEmail = 'admin@plangate.local'

/**
 * Makes sure an admin exists. With ADMIN_EMAIL + ADMIN_PASSWORD that user is created (or promoted);
 * its password is only set on creation. Without them, and with no admin at all, one is created with
 * a random password that is returned so the caller can print it once.
 */
export async function ensureAdmin(
  db: Db,
  config: Config,
  now: Date,
): Promise<{ email: string; password: string } | undefined> {
  if (config.ADMIN_EMAIL) {
    const email = config.ADMIN_EMAIL
    const [existing] = await db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    if (existing) {
      await db.update(users).set({ isAdmin: true, updatedAt: now }).where(eq(users.id, existing.id))
      return undefined
    }
    const password = config.ADMIN_PASSWORD ?? randomBytes(18).toString('base64url')
    await createAdmin(db, email, password, now)
    return config.ADMIN_PASSWORD ? undefined : { email, password }
  }
  const [anyAdmin] = await db.select({ id: users.id }).from(users).where(eq(users.isAdmin, true)).limit(1)
  if (anyAdmin) return undefined
  const password = randomBytes(18).toString('base64url')
  const created = await createAdmin(db, generatedAdminEmail, password, now)
  return created ? { email: generatedAdminEmail, password } : undefined
}

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

/** Migrations, seed plans and the admin, in that order. */
export async function bootstrap(database: Database, config: Config, log: Logger, now: Date): Promise<void> {
  await database.migrate()
  await database.db.transaction((tx) => ensureSeedPlans(tx, now))
  const generated = await ensureAdmin(database.db, config, now)
  if (generated) {
    // Printed once, on the run that created the admin; it is not stored anywhere in clear.
    log.warn({ email: generated.email }, 'created an admin with a generated password (shown once on stdout)')
    process.stdout.write(
      `\n  plangate admin created\n    email:    ${generated.email}\n    password: ${generated.password}\n  (shown once; change it after logging in)\n\n`,
    )
  }
}
