// Builds the dependencies shared by the API server, the worker and the tests: one place that
// chooses each seam's implementation from the configuration. It only opens and constructs; the
// schema, seed plans and admin are the bootstrap step's (bootstrap.ts), run before createDeps.
import type { Logger } from 'pino'
import { bootstrap, showGeneratedAdmin } from './bootstrap.ts'
import type { Config } from './config.ts'
import { type Clock, systemClock } from './core/clock.ts'
import { type Database, openDatabase } from './core/db.ts'
import { connectRedis } from './core/redis.ts'
import { StartupError } from './core/startup.ts'
import type { Deps } from './deps.ts'
import { jobHandlers } from './jobs.ts'
import { setPasswordHashCost } from './modules/auth/passwords.ts'
import { createTokenService, loadSigningKey } from './modules/auth/tokens.ts'
import { createJobQueue } from './modules/jobs/queue.ts'
import { createMailer } from './modules/mail/index.ts'
import { createMetrics } from './modules/ops/metrics.ts'
import { createBilling } from './modules/stripe/billing.ts'
import { createWebhookSender } from './modules/webhooks/sender.ts'
import type { WebhookNetwork } from './modules/webhooks/transport.ts'

export interface WiringOptions {
  /** The open, bootstrapped database (see `openConfiguredDatabase` and `bootstrap`). */
  database: Database
  clock?: Clock
  /** How webhook deliveries resolve names and open sockets (tests count and steer them). */
  webhookNetwork?: WebhookNetwork
}

/** Opens the database of DATABASE_URL (PostgreSQL), or else the embedded one in DATA_DIR. */
export function openConfiguredDatabase(config: Config, log: Logger): Promise<Database> {
  return openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    acquireTimeoutMs: config.DATABASE_ACQUIRE_TIMEOUT_MS,
    onPoolError: (error) => log.warn({ err: error }, 'database connection lost'),
    connectTimeoutSeconds: config.DATABASE_CONNECT_TIMEOUT_SECONDS,
    onConnectRetry: (message, delayMs) =>
      log.warn(`${message}; retrying in ${delayMs} ms (up to DATABASE_CONNECT_TIMEOUT_SECONDS)`),
  })
}

/**
 * Builds every dependency over a bootstrapped database. The database stays the caller's to close
 * if this throws (after that, `closeDeps` closes it).
 */
export async function createDeps(config: Config, log: Logger, options: WiringOptions): Promise<Deps> {
  const { database } = options
  setPasswordHashCost(config.PASSWORD_HASH_COST)
  const clock = options.clock ?? systemClock
  // The key is read (or, on a first run without JWT_PRIVATE_KEY, generated and stored).
  const key = await loadSigningKey(database.db, config.JWT_PRIVATE_KEY).catch((error: unknown) => {
    // A key the configuration could read but tokens cannot use (an unsupported key type).
    if (config.JWT_PRIVATE_KEY && error instanceof Error) {
      throw new StartupError(
        error.message.startsWith('JWT_PRIVATE_KEY') ? error.message : `JWT_PRIVATE_KEY: ${error.message}`,
      )
    }
    throw error
  })
  const webhooks = createWebhookSender(config, options.webhookNetwork)
  // One registry per set of dependencies (tests build many in one process); the seams below record
  // into it, and what it reads at scrape time is registered with it.
  const metrics = createMetrics({ database, webhooks })
  const jobs = createJobQueue(database, jobHandlers, log, metrics)
  metrics.trackJobs(jobs)
  const billing = createBilling({ config, log, calls: metrics })
  if (billing.stripe) metrics.trackStripe(billing.stripe.guard)
  const redis = config.REDIS_URL ? await connectRedis(config.REDIS_URL, log) : undefined
  if (redis) metrics.trackRedis(redis)
  return {
    config,
    database,
    db: database.db,
    clock,
    tokens: createTokenService(key, { issuer: config.APP_URL, ttlSeconds: config.ACCESS_TOKEN_TTL }),
    jobs,
    mailer: createMailer(config, log),
    billing,
    webhooks,
    redis,
    metrics,
    log,
  }
}

/**
 * How a long-running process (server, worker) starts: open the configured database, bootstrap it
 * (a generated admin's password is shown once), build the dependencies. The database is closed
 * again (an embedded one's lock released) when a step fails.
 */
export async function startDeps(config: Config, log: Logger): Promise<Deps> {
  const database = await openConfiguredDatabase(config, log)
  try {
    const { generatedAdmin } = await bootstrap(database, config, log, new Date())
    if (generatedAdmin) showGeneratedAdmin(generatedAdmin, log)
    return await createDeps(config, log, { database })
  } catch (error) {
    await database.close().catch(() => undefined)
    throw error
  }
}

/** Stops the job queue, then closes the mail transport, Redis and the database. */
export async function closeDeps(deps: Deps): Promise<void> {
  await deps.jobs.stop()
  await deps.mailer.close()
  await deps.redis?.close()
  await deps.database.close()
}
