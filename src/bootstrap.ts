// Start-up state every run mode needs: migrations applied, seed plans present, an admin to log in with.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { eq, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from './config.ts'
import { type Database, type Db, migrationsFolder, queryRow } from './core/db.ts'
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

/** The committed migrations, oldest first, as drizzle-kit's journal lists them. */
function journal(): { tag: string; when: number }[] {
  const file = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[]
  }
  return file.entries
}

/** When the newest applied migration was generated (0 on an empty database). */
async function lastAppliedMigration(database: Database): Promise<number> {
  const table = await queryRow<{ name: string | null }>(
    database.db,
    sql`select to_regclass('drizzle.__drizzle_migrations')::text as name`,
  )
  if (!table?.name) return 0
  const last = await queryRow<{ created_at: string | null }>(
    database.db,
    sql`select max(created_at)::text as created_at from drizzle.__drizzle_migrations`,
  )
  return Number(last?.created_at ?? 0)
}

/**
 * Applies the pending migrations and returns their names (empty: already up to date). Drizzle
 * applies every journal entry newer than the newest one recorded, so those are the ones named.
 */
export async function migrate(database: Database): Promise<string[]> {
  const before = await lastAppliedMigration(database)
  await database.migrate()
  return journal()
    .filter((entry) => entry.when > before)
    .map((entry) => entry.tag)
}

export interface BootstrapReport {
  /** Migrations applied by this start (empty when the schema was up to date). */
  migrations: string[]
  /** Seed plans created by this start (empty when they existed). */
  seededPlans: string[]
}

/**
 * Migrations, seed plans and (unless `admin: false`) the admin, in that order. Says what it did
 * through `log`, and returns it.
 */
export async function bootstrap(
  database: Database,
  config: Config,
  log: Logger,
  now: Date,
  options: { admin?: boolean } = {},
): Promise<BootstrapReport> {
  const migrations = await migrate(database)
  for (const name of migrations) log.info({ migration: name }, `applied migration ${name}`)
  if (migrations.length === 0) log.info('database schema up to date')
  const seededPlans = await database.db.transaction((tx) => ensureSeedPlans(tx, now))
  if (seededPlans.length > 0) log.info({ plans: seededPlans }, `seeded plans ${seededPlans.join(', ')}`)
  if (options.admin === false) return { migrations, seededPlans }
  const generated = await ensureAdmin(database.db, config, now)
  if (generated) {
    // Printed once, on the run that created the admin; it is not stored anywhere in clear.
    log.warn({ email: generated.email }, 'created an admin with a generated password (shown once on stdout)')
    process.stdout.write(
      `\n  plangate admin created\n    email:    ${generated.email}\n    password: ${generated.password}\n  (shown once; change it after logging in)\n\n`,
    )
  }
  return { migrations, seededPlans }
}
