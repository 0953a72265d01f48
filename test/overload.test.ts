// Overload is reported honestly (issue 14): a full PostgreSQL pool answers 503 `service_busy` with
// Retry-After and is counted, while a database that cannot be reached stays 503
// `service_unavailable`; and a burst of sign-ups at the default pool size is served without a 5xx.
import { once } from 'node:events'
import { createServer, type Socket } from 'node:net'
import { sql } from 'drizzle-orm'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import { openDatabase } from '../src/core/db.ts'
import { fromDatabaseError } from '../src/core/errors.ts'
import { buildTestApp, login, scrapeMetrics, type TestApp, uniqueEmail } from './helpers/app.ts'
import { createTestDatabase, type TestDatabase, testDbKind } from './helpers/db.ts'

describe('how database errors are classified', () => {
  it('calls a pool acquire timeout busy, and a connection that cannot be opened unavailable', () => {
    // pg-pool's own messages: every connection stayed busy, versus a new one not opened in time.
    const acquire = new Error('timeout exceeded when trying to connect')
    expect(fromDatabaseError(acquire)?.code).toBe('service_busy')
    expect(fromDatabaseError(new Error('Failed query: select 1', { cause: acquire }))?.code).toBe(
      'service_busy',
    )
    const connect = new Error('Connection terminated due to connection timeout', {
      cause: new Error('Connection terminated unexpectedly'),
    })
    expect(fromDatabaseError(connect)?.code).toBe('service_unavailable')
    expect(fromDatabaseError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))?.code).toBe(
      'service_unavailable',
    )
    // too_many_connections: the server is up but full.
    expect(
      fromDatabaseError(Object.assign(new Error('sorry, too many clients'), { code: '53300' }))?.code,
    ).toBe('service_busy')
  })

  it('reports a server that accepts connections but never answers as unavailable, not busy', async () => {
    // A port that takes the TCP connection and says nothing: the connect attempt times out.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => sockets.add(socket))
    silent.listen(0, '127.0.0.1')
    await once(silent, 'listening')
    const { port } = silent.address() as { port: number }
    // A pool as openDatabase builds it (start-up itself refuses such a server before any pool
    // exists): the runtime error of a connection that cannot be opened in time.
    const pool = new pg.Pool({
      connectionString: `postgres://plangate@127.0.0.1:${port}/plangate`,
      max: 1,
      connectionTimeoutMillis: 200,
    })
    try {
      const error = await pool.query('select 1').then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(error).toBeInstanceOf(Error)
      expect(fromDatabaseError(error)?.code).toBe('service_unavailable')
    } finally {
      await pool.end()
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })
})

describe.skipIf(testDbKind !== 'postgres')('a PostgreSQL pool with no free connection', () => {
  let template: TestDatabase
  let t: TestApp

  beforeAll(async () => {
    template = await createTestDatabase()
    // Two connections, a short acquire timeout: easy to fill, quick to give up.
    const database = await openDatabase({ url: template.url, poolSize: 2, acquireTimeoutMs: 300 })
    t = await buildTestApp({}, { testDb: { database, url: template.url, drop: () => database.close() } })
  })
  afterAll(async () => {
    await t?.close()
    await t?.testDb.drop()
    await template?.drop()
  })

  it('answers 503 service_busy with Retry-After (not "unavailable") and counts it, then recovers', async () => {
    const before = await busyCount(t)
    // Two slow transactions hold both pooled connections.
    const holders = [0, 1].map(() =>
      t.deps.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_sleep(1.5)`)
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    const res = await t.app.inject({ method: 'GET', url: '/v1/plans' })
    expect(res.statusCode, res.body).toBe(503)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ code: 'service_busy', status: 503 })
    expect(res.headers['retry-after']).toBe('2')
    await Promise.all(holders)
    expect(await busyCount(t)).toBe(before + 1)
    const metrics = await scrapeMetrics(t.app)
    expect(metrics).toMatch(/^plangate_db_pool_connections\{state="max"\} 2$/m)
    expect(metrics).toMatch(/^plangate_db_pool_waiting 0$/m)

    const after = await t.app.inject({ method: 'GET', url: '/v1/plans' })
    expect(after.statusCode).toBe(200)
  })
})

describe.skipIf(testDbKind !== 'postgres')('a burst of sign-ups at the default pool size', () => {
  let template: TestDatabase
  let t: TestApp

  beforeAll(async () => {
    template = await createTestDatabase()
    // The production defaults: DATABASE_POOL_SIZE and DATABASE_ACQUIRE_TIMEOUT_MS as shipped.
    const defaults = loadConfig({})
    const database = await openDatabase({
      url: template.url,
      poolSize: defaults.DATABASE_POOL_SIZE,
      acquireTimeoutMs: defaults.DATABASE_ACQUIRE_TIMEOUT_MS,
    })
    // Production's hashing cost too: the burst is meant to load the CPU as real sign-ups do.
    t = await buildTestApp(
      { PASSWORD_HASH_COST: 'owasp' },
      { testDb: { database, url: template.url, drop: () => database.close() } },
    )
  })
  afterAll(async () => {
    await t?.close()
    await t?.testDb.drop()
    await template?.drop()
  })

  // Register hashes (argon2) before its transaction opens, so the burst waits on the CPU, not on
  // pooled connections.
  it('serves 40 simultaneous sign-ups with no 5xx, and every new user can then sign in', async () => {
    const people = Array.from({ length: 40 }, () => ({
      email: uniqueEmail('burst'),
      password: 'a long passphrase for the burst',
    }))
    const responses = await Promise.all(
      people.map((person) => t.app.inject({ method: 'POST', url: '/v1/auth/register', payload: person })),
    )
    const statuses = responses.map((res) => res.statusCode)
    expect(
      statuses.filter((status) => status >= 500),
      responses.map((res) => res.body).join('\n'),
    ).toEqual([])
    expect(statuses.every((status) => status >= 200 && status < 300)).toBe(true)
    for (const person of people) {
      const tokens = await login(t.app, person.email, person.password)
      expect(tokens.token).toEqual(expect.any(String))
    }
  })
})

async function busyCount(t: TestApp): Promise<number> {
  const body = await scrapeMetrics(t.app)
  const line = body.split('\n').find((row) => row.startsWith('plangate_service_busy_total '))
  return Number(line?.split(' ')[1] ?? 0)
}
