// Operator commands: `plangate serve | migrate | create-admin <email> [password]`.
import 'dotenv/config'
import { randomBytes } from 'node:crypto'
import closeWithGrace from 'close-with-grace'
import { eq, sql } from 'drizzle-orm'
import { bootstrap, createAdmin as createAdminUser } from './bootstrap.ts'
import { ConfigError, configOrExit, loadConfig } from './config.ts'
import { openDatabase } from './core/db.ts'
import { createLogger } from './logging.ts'
import { users } from './modules/auth/tables.ts'
import { closeDeps, createDeps } from './wiring.ts'

const usage = `usage: plangate <command>

  serve                          run the API (same as npm start)
  worker                         run background jobs only (any number of workers; PostgreSQL)
  migrate                        apply migrations and seed plans, then exit
  create-admin <email> [pass]    create a site admin, or promote an existing user
                                 (a password is generated and printed when omitted)
`

async function withDatabase<T>(
  work: (database: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
): Promise<T> {
  const config = loadConfig()
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: 2 })
  try {
    await bootstrap(database, config, createLogger(config.LOG_LEVEL), new Date())
    return await work(database)
  } finally {
    await database.close()
  }
}

async function createAdmin(email: string, password: string | undefined): Promise<void> {
  await withDatabase(async ({ db }) => {
    const [existing] = await db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    if (existing) {
      await db.update(users).set({ isAdmin: true, updatedAt: new Date() }).where(eq(users.id, existing.id))
      process.stdout.write(`${email} is now a site admin\n`)
      return
    }
    const secret = password ?? randomBytes(18).toString('base64url')
    await createAdminUser(db, email, secret, new Date())
    process.stdout.write(
      password ? `created admin ${email}\n` : `created admin ${email} with password ${secret}\n`,
    )
  })
}

/** Polls and runs jobs until SIGTERM/SIGINT; running jobs finish before the process exits. */
async function runWorker(): Promise<void> {
  const config = configOrExit()
  const log = createLogger(config.LOG_LEVEL)
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
  switch (command) {
    case 'serve':
      await import('./server.ts')
      return
    case 'worker':
      await runWorker()
      return
    case 'migrate':
      await withDatabase(async () => {
        process.stdout.write('migrations applied, plans seeded\n')
      })
      return
    case 'create-admin': {
      const [email, password] = args
      if (!email) break
      await createAdmin(email, password)
      return
    }
  }
  process.stderr.write(usage)
  process.exitCode = 2
}

try {
  await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`)
    process.exit(1)
  }
  throw error
}
