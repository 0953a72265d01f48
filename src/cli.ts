// Operator commands: `plangate serve | worker | migrate | create-admin <email> [password]`.
// Exit status: 0 done, 1 refused or could not start (one line on stderr says why), 2 bad usage.
import 'dotenv/config'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import { eq, sql } from 'drizzle-orm'
import { type Level, pino } from 'pino'
import { z } from 'zod'
import { bootstrap, createAdmin as createAdminUser } from './bootstrap.ts'
import { type Config, loadConfig } from './config.ts'
import { type Database, openDatabase } from './core/db.ts'
import { AppError } from './core/errors.ts'
import { exitOnStartupError } from './core/startup.ts'
import { redactPaths } from './logging.ts'
import { assertStrongPassword } from './modules/auth/password-policy.ts'
import { users } from './modules/auth/tables.ts'
import { closeDeps, createDeps } from './wiring.ts'

const usage = `usage: plangate <command>

commands:
  serve                          run the API (same as npm start)
  worker                         run background jobs only (any number of workers; PostgreSQL)
  migrate                        apply pending migrations and seed plans, then exit
  create-admin <email> [pass]    create a site admin, or promote an existing user
                                 (a password is generated and printed when omitted)

options:
  -h, --help                     show this help
  -v, --version                  show the version

With the embedded database (no DATABASE_URL) only one process may use DATA_DIR at a time:
stop the server before running migrate or create-admin, or use PostgreSQL.
`

/** A command the user got wrong: printed with the usage, exit status 2. */
class UsageError extends Error {}

/** Input the command refuses (a weak password, a malformed email): exit status 1. */
class RefusedError extends Error {}

const say = (line: string) => process.stdout.write(`${line}\n`)

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/** Logs go to stderr, so stdout carries only the command's own answer (a password, say). */
function commandLog(config: Config) {
  // The command reports what it did itself; its info-level progress lines would only repeat it.
  const level: Level | 'silent' = config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL
  return pino({ level, redact: redactPaths }, pino.destination(2))
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

async function migrate(config: Config): Promise<void> {
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

async function createAdmin(config: Config, args: string[]): Promise<void> {
  const [email, password, ...extra] = args
  if (!email || extra.length > 0) throw new UsageError('create-admin takes an email and an optional password')
  if (!z.email().safeParse(email).success) throw new RefusedError(`email: not an email address: ${email}`)
  if (password !== undefined) {
    // The policy registration applies; checked before the database is opened.
    try {
      assertStrongPassword(password, config.PASSWORD_MIN_LENGTH, [email], 'password')
    } catch (error) {
      if (error instanceof AppError) throw new RefusedError(`password: ${error.detail ?? error.message}`)
      throw error
    }
  }
  await withDatabase(config, async (database) => {
    await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    const { db } = database
    const [existing] = await db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    if (existing) {
      await db.update(users).set({ isAdmin: true, updatedAt: new Date() }).where(eq(users.id, existing.id))
      say(`${email} is now a site admin${password ? ' (the existing password is unchanged)' : ''}`)
      return
    }
    const secret = password ?? randomBytes(18).toString('base64url')
    await createAdminUser(db, email, secret, new Date())
    say(password ? `created admin ${email}` : `created admin ${email} with password ${secret}`)
  })
}

/** Polls and runs jobs until SIGTERM/SIGINT; running jobs finish before the process exits. */
async function runWorker(config: Config): Promise<void> {
  const log = pino({ level: config.LOG_LEVEL, redact: redactPaths })
  const deps = await createDeps(config, log)
  await deps.jobs.start(deps, { work: true })
  log.info({ database: deps.database.kind }, 'plangate worker running')
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'worker stopping after an error')
    else log.info({ signal }, 'worker stopping')
    await closeDeps(deps)
  })
}

async function run(argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (command === undefined) throw new UsageError('no command given')
  if (argv.includes('--help') || argv.includes('-h') || command === 'help') {
    process.stdout.write(usage)
    return
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    say(`plangate ${version()}`)
    return
  }
  switch (command) {
    case 'serve':
      await import('./server.ts')
      return
    case 'worker':
      await runWorker(loadConfig())
      return
    case 'migrate':
      if (args.length > 0) throw new UsageError('migrate takes no arguments')
      await migrate(loadConfig())
      return
    case 'create-admin':
      await createAdmin(loadConfig(), args)
      return
  }
  throw new UsageError(`unknown command "${command}"`)
}

try {
  await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`plangate: ${error.message}\n\n${usage}`)
    process.exit(2)
  }
  if (error instanceof RefusedError) {
    process.stderr.write(`plangate: ${error.message}\n`)
    process.exit(1)
  }
  exitOnStartupError(error)
}
