// The bootstrap step, run before the dependencies are built by every run mode (server, worker,
// the CLI, the tests): migrations applied, seed plans present, an admin to log in with.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Config } from './config.ts'
import { type Database, migrationsFolder, queryRow } from './core/db.ts'
import { ensureAdmin } from './modules/auth/admins.ts'
import { setPasswordHashCost } from './modules/auth/passwords.ts'
import { ensureSeedPlans } from './modules/plans/plans.ts'

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
  /** An admin created with a generated password by this start: to show once (`showGeneratedAdmin`). */
  generatedAdmin?: { email: string; password: string }
}

/**
 * Migrations, seed plans and (unless `admin: false`) the admin, in that order. Says what it did
 * through `log`, and returns it; a generated admin password is returned, never logged.
 */
export async function bootstrap(
  database: Database,
  config: Config,
  log: Logger,
  now: Date,
  options: { admin?: boolean } = {},
): Promise<BootstrapReport> {
  // The admin's password may be hashed here, before createDeps runs.
  setPasswordHashCost(config.PASSWORD_HASH_COST)
  const migrations = await migrate(database)
  for (const name of migrations) log.info({ migration: name }, `applied migration ${name}`)
  if (migrations.length === 0) log.info('database schema up to date')
  const seededPlans = await database.db.transaction((tx) => ensureSeedPlans(tx, now))
  if (seededPlans.length > 0) log.info({ plans: seededPlans }, `seeded plans ${seededPlans.join(', ')}`)
  if (options.admin === false) return { migrations, seededPlans }
  const generatedAdmin = await ensureAdmin(database.db, config, now)
  return { migrations, seededPlans, ...(generatedAdmin && { generatedAdmin }) }
}

/**
 * Prints a generated admin password on stdout: once, on the run that created the admin (it is not
 * stored anywhere in clear).
 */
export function showGeneratedAdmin(admin: { email: string; password: string }, log: Logger): void {
  log.warn({ email: admin.email }, 'created an admin with a generated password (shown once on stdout)')
  process.stdout.write(
    `\n  plangate admin created\n    email:    ${admin.email}\n    password: ${admin.password}\n  (shown once; change it after logging in)\n\n`,
  )
}
