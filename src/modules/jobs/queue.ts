// The job queue seam: pg-boss, on PostgreSQL through its own pool, on PGlite through an adapter
// over the embedded client. Jobs are inserted with the caller's transaction, so a rolled-back
// change enqueues nothing and a committed one is never lost. The queue is generic over the context
// its handlers run with; the composition root gives it the handlers and that context.
import { type SQL, sql } from 'drizzle-orm'
import PgBoss from 'pg-boss'
import type { Logger } from 'pino'
import { v5 as uuidv5 } from 'uuid'
import type { Config } from '../../config.ts'
import { type Database, type Executor, queryRow, queryRows } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import type { JobDefinition, JobHandler } from './define.ts'
import { type JobRow, jobColumns, jobSchema, toJob } from './records.ts'
import type { Job } from './schemas.ts'

export interface EnqueueOptions {
  /**
   * A business key (e.g. `welcome:<user id>`): the job id is derived from it, so enqueueing the
   * same key again is a no-op for as long as the job is kept.
   */
  key?: string
  startAfter?: Date
}

// Namespace for job ids derived from business keys (UUIDv5).
const jobKeyNamespace = '5b0f6f3e-7a43-4b8e-9a51-0c7f4f2d9a11'

/** The part of the queue that code enqueueing work needs. */
export interface JobSender {
  /** Inserts a job in the same transaction as `executor`'s work. */
  enqueue<P>(
    executor: Executor,
    job: JobDefinition<P>,
    payload: P,
    options?: EnqueueOptions,
  ): Promise<string | null>
}

/** How one run of a job ended: its handler returned, or threw (pg-boss retries it until its limit). */
export type JobOutcome = 'completed' | 'failed'

/** Where runs are counted and timed (the metrics); in-memory, no I/O. */
export interface JobRecorder {
  jobRan(queue: string, outcome: JobOutcome, seconds: number): void
}

/** The states a queue's jobs are counted by at scrape time. */
export const jobDepthStates = ['created', 'retry', 'active', 'failed'] as const
export type JobDepthState = (typeof jobDepthStates)[number]

export interface QueueDepth {
  queue: string
  state: JobDepthState
  jobs: number
}

/** What the queue itself reads from the handlers' context: the settings of configurable retries. */
export interface JobQueueContext {
  config: Config
}

export interface JobQueue<Ctx extends JobQueueContext> extends JobSender {
  /**
   * Creates the queues and (unless `schedule` is false) the cron schedules; with `work`, also
   * polls and runs jobs in this process, each handler given `ctx`.
   */
  start(ctx: Ctx, options: { work: boolean; schedule?: boolean }): Promise<void>
  /** Runs every job that is due now, until none is left (tests and one-off runs). Returns how many ran. */
  drain(ctx: Ctx): Promise<number>
  /** Stops polling; running handlers finish first. */
  stop(): Promise<void>
  /**
   * Gives a `failed` job one more attempt (pg-boss's `retry`: state `retry`, its retry limit one
   * higher), in the transaction of `executor`, and returns it as it now is. 404 for an unknown job,
   * 409 for one in any other state: a job that is still retrying or running needs no retry, and a
   * completed or cancelled one is not run again.
   */
  retry(executor: Executor, id: string): Promise<Job>
  /**
   * How many jobs each registered queue holds by state (waiting: `created`, `retry`; `active`;
   * `failed`, kept as long as completed ones), in one statement that gives up after `timeoutMs`.
   */
  depth(timeoutMs: number): Promise<QueueDepth[]>
}

/** Turns a `$1`-style statement into Drizzle SQL, so pg-boss can run inside our transactions. */
export function positionalSql(text: string, values: unknown[]): SQL {
  const parts = text.split(/\$(\d+)/)
  return sql.join(
    parts.map((part, index) => {
      if (index % 2 === 0) return sql.raw(part)
      const value = values[Number(part) - 1] ?? null
      // An array is one parameter (pg-boss's `$2::uuid[]`), not a list Drizzle would spread.
      return Array.isArray(value) ? sql`${sql.param(value)}` : sql`${value}`
    }),
    sql``,
  )
}

const executorDb = (executor: Executor): PgBoss.Db => ({
  executeSql: async (text, values) => ({
    rows: await queryRows(executor, positionalSql(text, values ?? [])),
  }),
})

/** A queue that runs exactly `handlers`; enqueueing a job without one is refused. */
export function createJobQueue<Ctx extends JobQueueContext>(
  database: Database,
  handlers: readonly JobHandler<Ctx>[],
  log: Logger,
  recorder: JobRecorder = { jobRan: () => undefined },
): JobQueue<Ctx> {
  /**
   * pg-boss is made at `start`, when it is known whether this process works or schedules: only
   * then does it run pg-boss's supervisor (maintenance of the queues) and timekeeper (cron).
   */
  let boss: PgBoss | undefined
  const makeBoss = (background: boolean) => {
    const options: PgBoss.ConstructorOptions = {
      schema: jobSchema,
      application_name: 'plangate-jobs',
      // Completed jobs are kept a week for inspection, failed ones as long (see the admin API).
      deleteAfterDays: 7,
      retentionDays: 7,
      supervise: background,
      schedule: background,
    }
    const made =
      database.kind === 'postgres' && database.url
        ? new PgBoss({ ...options, connectionString: database.url, max: 4 })
        : new PgBoss({ ...options, db: database.bossDb() })
    made.on('error', (error) => log.error({ err: error }, 'job queue error'))
    return made
  }
  const started = () => {
    if (!boss) throw new Error('the job queue is not started')
    return boss
  }
  const byName = new Map(handlers.map((handler) => [handler.job.name, handler]))

  /** Runs one job and records its outcome; a failure is retried by pg-boss until its retry limit. */
  async function runOne(ctx: Ctx, handler: JobHandler<Ctx>, job: PgBoss.Job<unknown>) {
    const { name } = handler.job
    const began = performance.now()
    const ran = (outcome: JobOutcome) => recorder.jobRan(name, outcome, (performance.now() - began) / 1000)
    try {
      const payload = handler.job.payload.parse(job.data)
      await handler.handle(ctx, payload, { jobId: job.id })
      ran('completed')
      await started().complete(name, job.id)
    } catch (error) {
      ran('failed')
      log.warn({ err: error, job: name, jobId: job.id }, 'job failed')
      const message = error instanceof Error ? error.message : String(error)
      await started().fail(name, job.id, { message })
    }
  }

  return {
    async enqueue(executor, job, payload, enqueueOptions = {}) {
      if (!byName.has(job.name)) throw new Error(`job ${job.name} is not registered`)
      const data = job.payload.parse(payload) as object
      return started().send(job.name, data, {
        db: executorDb(executor),
        ...(enqueueOptions.key && { id: uuidv5(`${job.name}:${enqueueOptions.key}`, jobKeyNamespace) }),
        ...(enqueueOptions.startAfter && { startAfter: enqueueOptions.startAfter }),
      })
    },

    async start(ctx, { work, schedule = true }) {
      if (!boss) {
        const made = makeBoss(work || schedule)
        await made.start()
        boss = made
      }
      for (const handler of handlers) {
        const definition = handler.job
        const settings = { ...definition, ...definition.retrySettings?.(ctx.config) }
        const queueSettings = {
          name: definition.name,
          retryLimit: settings.retryLimit ?? 5,
          retryDelay: settings.retryDelaySeconds ?? 10,
          retryBackoff: settings.retryBackoff ?? true,
          expireInSeconds: settings.expireInSeconds ?? 300,
        }
        await boss.createQueue(definition.name, queueSettings)
        // createQueue leaves a queue made by an earlier start as it was: the settings of this
        // start (its definition and configuration, e.g. WEBHOOK_RETRY_DELAY_SECONDS) are applied.
        await boss.updateQueue(definition.name, queueSettings)
        if (definition.schedule && schedule)
          await boss.schedule(definition.name, definition.schedule, {}, { tz: 'UTC' })
        if (work) {
          // pg-boss waits the polling interval between fetches even after a full batch, so a
          // batch of ten every half second is the throughput of one worker per queue.
          await boss.work(definition.name, { pollingIntervalSeconds: 0.5, batchSize: 10 }, async (jobs) => {
            for (const job of jobs) await runOne(ctx, handler, job)
          })
        }
      }
    },

    async drain(ctx) {
      let ran = 0
      for (let round = 0; round < 100; round++) {
        let fetched = 0
        for (const handler of handlers) {
          const jobs = await started().fetch<unknown>(handler.job.name, { batchSize: 20 })
          fetched += jobs.length
          for (const job of jobs) {
            ran++
            await runOne(ctx, handler, job)
          }
        }
        if (fetched === 0) break
      }
      return ran
    },

    async retry(executor, id) {
      const readJob = () =>
        queryRow<JobRow>(
          executor,
          sql`select ${jobColumns} from ${sql.identifier(jobSchema)}.job where id = ${id}::uuid for update`,
        )
      const job = await readJob()
      if (!job) throw notFound('Job')
      if (job.state !== 'failed') {
        throw new AppError('conflict', `Only a failed job can be retried; this one is ${job.state}`)
      }
      await started().retry(job.name, id, { db: executorDb(executor) })
      const retried = await readJob()
      if (!retried) throw new Error('the retried job is gone')
      return toJob(retried)
    },

    async depth(timeoutMs) {
      const names = [...byName.keys()]
      const counts = new Map<string, number>()
      // The statement is bounded in the database too, so a slow one does not keep its connection.
      await database.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`set local statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`))
        const rows = await queryRows<{ name: string; state: string; jobs: number }>(
          tx,
          sql`select name, state::text as state, count(*)::int as jobs
            from ${sql.identifier(jobSchema)}.job
            where name in (${sql.join(
              names.map((name) => sql`${name}`),
              sql`, `,
            )}) and state::text in (${sql.join(
              jobDepthStates.map((state) => sql`${state}`),
              sql`, `,
            )})
            group by name, state`,
        )
        for (const row of rows) counts.set(`${row.name} ${row.state}`, Number(row.jobs))
      })
      // Every registered queue and state, zeros included, so a drained queue reads 0, not absent.
      return names.flatMap((queue) =>
        jobDepthStates.map((state) => ({ queue, state, jobs: counts.get(`${queue} ${state}`) ?? 0 })),
      )
    },

    async stop() {
      if (!boss) return
      const stopping = boss
      boss = undefined
      await stopping.stop({ graceful: true, wait: true, timeout: 10_000 })
    },
  }
}
