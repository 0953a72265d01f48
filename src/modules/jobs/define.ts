// A job is split in two. Its definition (name, payload schema, retry and schedule options) is all
// that enqueueing code needs; its handler is registered with the queue at the composition root.
// Both sit in the module that owns the work, so the queue itself knows no module.
import type { z } from 'zod'
import type { Config } from '../../config.ts'

/**
 * A background job as enqueueing code sees it. The same definition runs on pg-boss over
 * PostgreSQL and over the embedded PGlite.
 */
export interface JobDefinition<P> {
  name: string
  payload: z.ZodType<P>
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

/** What a handler learns about the run besides its payload. */
export interface JobRun {
  /** pg-boss's id of the job, stable across retries (a mail's reference, say). */
  jobId: string
}

/**
 * Runs a job's validated payload with a context: the dependencies it needs, typed as narrowly as
 * the handler likes. Handlers are idempotent, keyed by a business id, since a failure is retried.
 */
export interface JobHandler<Ctx, P = unknown> {
  job: JobDefinition<P>
  // A method (not a property) so handlers of different payloads and contexts fit one list.
  handle(ctx: Ctx, payload: P, run: JobRun): Promise<void>
}

/** Pairs a definition with the function that runs it. */
export const handleJob = <Ctx, P>(
  job: JobDefinition<P>,
  handle: (ctx: Ctx, payload: P, run: JobRun) => Promise<void>,
): JobHandler<Ctx, P> => ({ job, handle })
