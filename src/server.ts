// Process entry: config → database → bootstrap → deps → buildApp → listen; graceful shutdown on
// signals. A failure an operator can fix (a bad setting, the database, the port) ends it with one
// line, no stack trace.
import closeWithGrace from 'close-with-grace'
import 'dotenv/config'
import type { Logger } from 'pino'
import { buildApp } from './app.ts'
import { type Config, loadConfig } from './config.ts'
import { exitOnStartupError, StartupError } from './core/startup.ts'
import { createLogger } from './logging.ts'
import { closeDeps, startDeps } from './wiring.ts'

/** The embedded defaults are fine on a laptop; in production they deserve a warning at each start. */
function warnAboutEmbeddedDefaults(config: Config, log: Logger): void {
  if (config.NODE_ENV !== 'production') return
  if (!config.DATABASE_URL) {
    log.warn(
      { dataDir: config.DATA_DIR },
      'NODE_ENV=production on the embedded database (PGlite in DATA_DIR): one process only, no workers, ' +
        'back up DATA_DIR yourself; set DATABASE_URL to use PostgreSQL',
    )
  }
  if (!config.SMTP_URL) {
    log.warn(
      { dataDir: config.DATA_DIR },
      'NODE_ENV=production without SMTP_URL: emails are not sent but written to DATA_DIR/outbox, ' +
        'with their live links and codes; set SMTP_URL',
    )
  }
}

/** Turns the listen errors an operator causes into one line naming HOST or PORT. */
function listenError(error: unknown, config: Config): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const address = `${config.HOST}:${config.PORT}`
  if (code === 'EADDRINUSE') return new StartupError(`PORT: ${address} is already in use`)
  if (code === 'EACCES') return new StartupError(`PORT: not allowed to listen on ${address} (EACCES)`)
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return new StartupError(`HOST: ${config.HOST} is not an address of this machine (${code})`)
  return error
}

async function main(): Promise<void> {
  const config = loadConfig()
  const log = createLogger(config.LOG_LEVEL)
  warnAboutEmbeddedDefaults(config, log)
  const deps = await startDeps(config, log)
  const app = await buildApp(deps)
  await deps.jobs.start(deps, { work: config.JOBS_IN_PROCESS })

  const shutdown = closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down')
    // Stop accepting connections and let in-flight requests finish, then let running jobs finish.
    await app.close()
    await closeDeps(deps)
  })

  try {
    await app.listen({ port: config.PORT, host: config.HOST })
  } catch (error) {
    shutdown.uninstall()
    await app.close().catch(() => undefined)
    await closeDeps(deps).catch(() => undefined)
    throw listenError(error, config)
  }
  log.info(
    {
      database: deps.database.kind,
      jobs: config.JOBS_IN_PROCESS ? 'in-process' : 'workers',
      url: config.APP_URL,
      docs: `${config.APP_URL.replace(/\/$/, '')}/docs`,
    },
    `plangate listening on ${config.HOST}:${config.PORT}`,
  )
}

try {
  await main()
} catch (error) {
  exitOnStartupError(error)
}
