// The `plangate` commands that work on the database, loaded only when one of them runs (so that
// `--help` and `--version` answer at once). Refusals are StartupErrors: one line, exit status 1.
import closeWithGrace from 'close-with-grace'
import { type Level, pino } from 'pino'
import { z } from 'zod'
import { bootstrap } from './bootstrap.ts'
import type { Config } from './config.ts'
import { type Database, openDatabase } from './core/db.ts'
import { AppError } from './core/errors.ts'
import { StartupError } from './core/startup.ts'
import { createLogger } from './logging.ts'
import { grantAdmin } from './modules/auth/admins.ts'
import { assertStrongPassword } from './modules/auth/password-policy.ts'
import { closeDeps, startDeps } from './wiring.ts'

const say = (line: string) => process.stdout.write(`${line}\n`)

/** Logs go to stderr, so stdout carries only the command's own answer (a password, say). */
function commandLog(config: Config) {
  // The command reports what it did itself; its info-level progress lines would only repeat it.
  const level: Level | 'silent' = config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL
  return createLogger(level, pino.destination(2))
}

async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: 2,
    connectTimeoutSeconds: config.DATABASE_CONNECT_TIMEOUT_SECONDS,
    onConnectRetry: (message, delayMs) =>
      process.stderr.write(`plangate: ${message}; retrying in ${delayMs} ms\n`),
  })
  try {
    return await work(database)
  } finally {
    await database.close()
  }
}

/** Applies pending migrations and seeds plans, saying which. */
export async function migrate(config: Config): Promise<void> {
  await withDatabase(config, async (database) => {
    const report = await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    if (report.migrations.length === 0) say('database schema already up to date')
    else
      say(
        `applied ${report.migrations.length} migration${report.migrations.length === 1 ? '' : 's'}: ${report.migrations.join(', ')}`,
      )
    if (report.seededPlans.length > 0) say(`seeded plans: ${report.seededPlans.join(', ')}`)
  })
}

/** Creates a site admin (printing a generated password when none is given), or promotes a user. */
export async function createAdmin(
  config: Config,
  email: string,
  password: string | undefined,
): Promise<void> {
  if (!z.email().safeParse(email).success) throw new StartupError(`email: not an email address: ${email}`)
  if (password !== undefined) {
    // The policy registration applies; checked before the database is opened.
    try {
      assertStrongPassword(password, config.PASSWORD_MIN_LENGTH, [email], 'password')
    } catch (error) {
      if (error instanceof AppError) throw new StartupError(`password: ${error.detail ?? error.message}`)
      throw error
    }
  }
  await withDatabase(config, async (database) => {
    await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    const grant = await grantAdmin(database.db, email, password, new Date())
    if (grant.outcome === 'promoted')
      say(`${email} is now a site admin${password ? ' (the existing password is unchanged)' : ''}`)
    else
      say(
        grant.generated ? `created admin ${email} with password ${grant.password}` : `created admin ${email}`,
      )
  })
}

/** Polls and runs jobs until SIGTERM/SIGINT; running jobs finish before the process exits. */
export async function runWorker(config: Config): Promise<void> {
  const log = createLogger(config.LOG_LEVEL)
  const deps = await startDeps(config, log)
  await deps.jobs.start(deps, { work: true })
  log.info({ database: deps.database.kind }, 'plangate worker running')
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'worker stopping after an error')
    else log.info({ signal }, 'worker stopping')
    await closeDeps(deps)
  })
}
