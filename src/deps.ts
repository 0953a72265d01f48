import type { Logger } from 'pino'
import type { Config } from './config.ts'
import type { Clock } from './core/clock.ts'
import type { Database, Db } from './core/db.ts'
import type { SharedRedis } from './core/redis.ts'
import type { TokenService } from './modules/auth/tokens.ts'
import type { JobQueue } from './modules/jobs/queue.ts'
import type { Mailer } from './modules/mail/mailer.ts'
import type { Metrics } from './modules/ops/metrics.ts'
import type { Billing } from './modules/stripe/billing.ts'
import type { WebhookSender } from './modules/webhooks/sender.ts'

/** Everything the app needs from outside, built in wiring.ts and swapped in tests. */
export interface Deps {
  config: Config
  database: Database
  db: Db
  clock: Clock
  tokens: TokenService
  jobs: JobQueue<Deps>
  mailer: Mailer
  billing: Billing
  /** Outgoing webhook POSTs: the address rule and a circuit breaker per endpoint. */
  webhooks: WebhookSender
  /** The connection the rate limits count on when REDIS_URL is set; unset: in-memory per instance. */
  redis: SharedRedis | undefined
  /** The Prometheus registry and the recorders the code that knows an outcome counts it through. */
  metrics: Metrics
  log: Logger
}
