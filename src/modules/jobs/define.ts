import type { z } from 'zod'
import type { Config } from '../../config.ts'
import type { Deps } from '../../deps.ts'

export interface JobContext {
  deps: Deps
  jobId: string
}

/**
 * A background job: a name, the schema of its payload and an idempotent handler. The same
 * definition runs on pg-boss over PostgreSQL and over the embedded PGlite.
 */
export interface JobDefinition<P> {
  name: string
  payload: z.ZodType<P>
  // A method (not a property) so definitions of different payloads fit one list.
  handler(context: JobContext, payload: P): Promise<void>
  /** Attempts after the first failure (default 5). */
  retryLimit?: number
  /** Seconds before the first retry (default 10); doubled each time unless `retryBackoff: false`. */
  retryDelaySeconds?: number
  retryBackoff?: boolean
  /** A running job is considered lost (and retried) after this long (default 300 s). */
  expireInSeconds?: number
  /** Cron expression (UTC) for a scheduled job. */
  schedule?: string
  /** Retry settings that depend on the configuration; they override the ones above. */
  retrySettings?(config: Config): Pick<JobDefinition<P>, 'retryDelaySeconds' | 'retryBackoff'>
}

export const defineJob = <P>(definition: JobDefinition<P>): JobDefinition<P> => definition
