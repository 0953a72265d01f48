// Jobs: enqueued in the caller's transaction, retried with backoff, kept when they keep failing,
// and never run twice by competing workers.
import { eq, sql } from 'drizzle-orm'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  bearer,
  buildTestApp,
  loginAdmin,
  registerAndLogin,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { queryRow } from '../../core/db.ts'
import type { Deps } from '../../deps.ts'
import { auditLog } from '../audit/tables.ts'
import { defineJob, handleJob } from './define.ts'
import { createJobQueue, type JobQueue } from './queue.ts'

const log = pino({ level: 'silent' })

const recordRun = defineJob({
  name: 'test.record-run',
  payload: z.object({ label: z.string() }),
  retryLimit: 0,
})
const recordRunHandler = handleJob(recordRun, async (deps: Deps, payload, { jobId }) => {
  await deps.db.execute(sql`insert into test_job_runs (job_id, label) values (${jobId}, ${payload.label})`)
})

const alwaysFails = defineJob({
  name: 'test.always-fails',
  payload: z.object({}),
  retryLimit: 2,
  retryDelaySeconds: 0,
  retryBackoff: false,
})
const alwaysFailsHandler = handleJob(alwaysFails, async () => {
  throw new Error('the downstream service said no')
})

/** Fails until the test lets it through: a job whose downstream service comes back. */
let downstreamUp = false
const failsWhileDown = defineJob({
  name: 'test.fails-while-down',
  payload: z.object({ label: z.string() }),
  retryLimit: 0,
})
const failsWhileDownHandler = handleJob(failsWhileDown, async (deps: Deps, payload, { jobId }) => {
  if (!downstreamUp) throw new Error('the downstream service is down')
  await deps.db.execute(sql`insert into test_job_runs (job_id, label) values (${jobId}, ${payload.label})`)
})

const scheduled = defineJob({
  name: 'test.hourly',
  payload: z.object({}),
  schedule: '0 * * * *',
})
const scheduledHandler = handleJob(scheduled, async () => {})

describe('job queue', () => {
  let t: TestApp
  let queue: JobQueue<Deps>
  const runs = async (label: string) =>
    Number(
      (
        await queryRow<{ n: number }>(
          t.deps.db,
          sql`select count(*)::int as n from test_job_runs where label = ${label}`,
        )
      )?.n,
    )

  beforeAll(async () => {
    t = await buildTestApp()
    await t.deps.db.execute(sql`create table test_job_runs (job_id text not null, label text not null)`)
    queue = createJobQueue<Deps>(
      t.testDb.database,
      [recordRunHandler, alwaysFailsHandler, failsWhileDownHandler, scheduledHandler],
      log,
    )
    await queue.start(t.deps, { work: false })
  })
  afterAll(async () => {
    await queue?.stop()
    await t?.close()
  })

  it('enqueues nothing for a rolled-back transaction', async () => {
    await expect(
      t.deps.db.transaction(async (tx) => {
        await queue.enqueue(tx, recordRun, { label: 'rolled-back' })
        throw new Error('the change failed')
      }),
    ).rejects.toThrow('the change failed')
    await queue.drain(t.deps)
    expect(await runs('rolled-back')).toBe(0)
  })

  it('runs a job of a committed transaction exactly once', async () => {
    await t.deps.db.transaction(async (tx) => {
      await queue.enqueue(tx, recordRun, { label: 'committed' })
    })
    expect(await queue.drain(t.deps)).toBeGreaterThanOrEqual(1)
    await queue.drain(t.deps)
    expect(await runs('committed')).toBe(1)
  })

  it('enqueues one job per business key', async () => {
    await queue.enqueue(t.deps.db, recordRun, { label: 'singleton' }, { key: 'welcome:42' })
    await queue.enqueue(t.deps.db, recordRun, { label: 'singleton' }, { key: 'welcome:42' })
    await queue.drain(t.deps)
    expect(await runs('singleton')).toBe(1)
  })

  it('retries a failing job, then keeps it as failed and shows it to admins', async () => {
    const id = await queue.enqueue(t.deps.db, alwaysFails, {})
    await queue.drain(t.deps)
    const job = await queryRow<{ state: string; retry_count: number }>(
      t.deps.db,
      sql`select state::text as state, retry_count from pgboss.job where id = ${id}::uuid`,
    )
    expect(job).toEqual({ state: 'failed', retry_count: 2 })

    const admin = await loginAdmin(t.app)
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/jobs?state=failed&name=test.always-fails',
      headers: bearer(admin),
    })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().data).toEqual([
      expect.objectContaining({ id, state: 'failed', retry_count: 2, retry_limit: 2 }),
    ])
    expect(JSON.stringify(res.json().data[0].output)).toContain('the downstream service said no')
  })

  it('retries a failed job once for a site admin, audited, and refuses jobs that are not failed', async () => {
    const id = await queue.enqueue(t.deps.db, failsWhileDown, { label: 'retried' })
    await queue.drain(t.deps)
    const admin = await loginAdmin(t.app)
    const retry = (jobId = id, headers: Record<string, string> = bearer(admin)) =>
      t.app.inject({ method: 'POST', url: `/v1/admin/jobs/${jobId}/retry`, headers })

    const member = await registerAndLogin(t.app)
    expect((await retry(id, bearer(member.token))).statusCode).toBe(403)
    expect((await retry(id, {})).statusCode).toBe(401)

    const res = await retry()
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toEqual(
      expect.objectContaining({ id, name: failsWhileDown.name, state: 'retry', retry_limit: 1 }),
    )
    // Already scheduled again: a second retry is refused until it has failed once more.
    const again = await retry()
    expect(again.statusCode).toBe(409)
    expect(again.json().code).toBe('conflict')

    downstreamUp = true
    await queue.drain(t.deps)
    expect(await runs('retried')).toBe(1)
    const job = await queryRow<{ state: string }>(
      t.deps.db,
      sql`select state::text as state from pgboss.job where id = ${id}::uuid`,
    )
    expect(job?.state).toBe('completed')
    expect((await retry()).statusCode).toBe(409)
    expect((await retry('0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01')).statusCode).toBe(404)

    const entries = await t.deps.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.subjectId, String(id)))
    expect(entries).toEqual([
      expect.objectContaining({
        actorType: 'user',
        action: 'job.retried',
        subjectType: 'job',
        data: { name: failsWhileDown.name, retry_limit: 1 },
      }),
    ])
  })

  it('refuses the jobs list to non-admins', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/jobs' })
    expect(res.statusCode).toBe(401)
  })

  it('registers scheduled jobs with their cron expression', async () => {
    const row = await queryRow<{ cron: string }>(
      t.deps.db,
      sql`select cron from pgboss.schedule where name = ${scheduled.name}`,
    )
    expect(row?.cron).toBe('0 * * * *')
  })

  it('applies changed retry settings when a queue made by an earlier start starts again', async () => {
    const settingsOf = (name: string) =>
      queryRow<{ retry_limit: number; retry_delay: number; retry_backoff: boolean }>(
        t.deps.db,
        sql`select retry_limit, retry_delay, retry_backoff from pgboss.queue where name = ${name}`,
      )
    expect(await settingsOf(alwaysFails.name)).toEqual({
      retry_limit: 2,
      retry_delay: 0,
      retry_backoff: false,
    })
    const changed = handleJob(
      defineJob({ ...alwaysFails, retryLimit: 7, retryDelaySeconds: 30, retryBackoff: true }),
      async () => {},
    )
    const restarted = createJobQueue(t.testDb.database, [changed], log)
    await restarted.start(t.deps, { work: false, schedule: false })
    await restarted.stop()
    expect(await settingsOf(alwaysFails.name)).toEqual({
      retry_limit: 7,
      retry_delay: 30,
      retry_backoff: true,
    })
    // The suite's own queue takes its settings back when it starts again.
    await queue.start(t.deps, { work: false, schedule: false })
    expect(await settingsOf(alwaysFails.name)).toEqual({
      retry_limit: 2,
      retry_delay: 0,
      retry_backoff: false,
    })
  })

  it('never runs a job twice when two workers compete for it', async () => {
    const second = createJobQueue(t.testDb.database, [recordRunHandler], log)
    const first = createJobQueue(t.testDb.database, [recordRunHandler], log)
    await t.deps.db.transaction(async (tx) => {
      for (let i = 0; i < 40; i++) await queue.enqueue(tx, recordRun, { label: 'competing' })
    })
    await Promise.all([first.start(t.deps, { work: true }), second.start(t.deps, { work: true })])
    try {
      const deadline = Date.now() + 30_000
      while ((await runs('competing')) < 40 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    } finally {
      await Promise.all([first.stop(), second.stop()])
    }
    const counts = await queryRow<{ total: number; distinct_jobs: number }>(
      t.deps.db,
      sql`select count(*)::int as total, count(distinct job_id)::int as distinct_jobs from test_job_runs where label = 'competing'`,
    )
    expect(counts).toEqual({ total: 40, distinct_jobs: 40 })
  })
})
