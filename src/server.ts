// Process entry: config → dependencies → bootstrap → buildApp → listen; graceful shutdown on signals.
import closeWithGrace from 'close-with-grace'
import 'dotenv/config'
import { pino } from 'pino'
import { buildApp } from './app.ts'
import { bootstrap } from './bootstrap.ts'
import { ConfigError, loadConfig } from './config.ts'
import { systemClock } from './core/clock.ts'
import { openDatabase } from './core/db.ts'
import type { Deps } from './deps.ts'
import { createTokenService, loadSigningKey } from './modules/auth/tokens.ts'

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.refresh_token',
  '*.access_token',
]

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
  const log = pino({ level: config.LOG_LEVEL, redact: redactPaths })
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    onPoolError: (error) => log.warn({ err: error }, 'database connection lost'),
  })
  await bootstrap(database, config, log, systemClock.now())
  const key = await loadSigningKey(database.db, config.JWT_PRIVATE_KEY)
  const deps: Deps = {
    config,
    database,
    db: database.db,
    clock: systemClock,
    tokens: createTokenService(key, { issuer: config.APP_URL, ttlSeconds: config.ACCESS_TOKEN_TTL }),
    log,
  }
  const app = await buildApp(deps)

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down')
    // Stop accepting connections and let in-flight requests finish, then release the database.
    await app.close()
    await database.close()
  })

  await app.listen({ port: config.PORT, host: config.HOST })
  log.info(
    { database: database.kind, docs: `http://${config.HOST}:${config.PORT}/docs` },
    `plangate listening on ${config.HOST}:${config.PORT}`,
  )
}

await main()
