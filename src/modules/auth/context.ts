import type { Config } from '../../config.ts'
import type { Clock } from '../../core/clock.ts'
import type { Db } from '../../core/db.ts'
import type { JobSender } from '../jobs/queue.ts'

/**
 * What the auth use cases need from outside; the app's `Deps` satisfies it, so routes pass
 * `deps`. Use cases that hash a password take the database rather than a transaction: argon2 runs
 * before they open one, so no connection waits on the CPU.
 */
export interface AuthContext {
  config: Pick<
    Config,
    'PASSWORD_MIN_LENGTH' | 'REFRESH_TOKEN_TTL' | 'SESSION_MAX_AGE' | 'REFRESH_REUSE_INTERVAL_SECONDS'
  >
  db: Db
  clock: Clock
  jobs: JobSender
}
