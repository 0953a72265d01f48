// Rate limits shared through Redis (REDIS_URL): every limit (global, auth per identifier, auth per
// IP) counts once across instances, and a Redis that is down or stuck never refuses or holds a
// request: it is served without a limit, counted, logged once per outage, and /ready says so.
// The database plays no part here, so these run on PGlite only, against a private redis-server.
import { Redis } from 'ioredis'
import type { DestinationStream } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../src/logging.ts'
import { buildTestApp, scrapeMetrics, type TestApp, uniqueEmail } from './helpers/app.ts'
import { createTestDatabase, testDbKind } from './helpers/db.ts'
import { type RedisServer, redisServerPath, startRedisServer } from './helpers/redis.ts'

const binary = testDbKind === 'pglite' ? redisServerPath() : null

/** A log destination that keeps every line written, parsed. */
function captureLog() {
  const lines: { level: number; msg: string }[] = []
  const destination: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line)) }
  const warnings = () => lines.filter((line) => line.level === 40).map((line) => line.msg)
  return { lines, warnings, log: createLogger('info', destination) }
}

let ipSequence = 0
/** A client address no other test uses, so no two tests share a counter in the one Redis. */
const freshIp = () => `198.51.100.${++ipSequence}`

const plans = (t: TestApp, remoteAddress: string) =>
  t.app.inject({ method: 'GET', url: '/v1/plans', remoteAddress })

const signIn = (t: TestApp, username: string, remoteAddress: string) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/auth/token',
    remoteAddress,
    payload: { username, password: 'wrong-password-123' },
  })

/** The counter of rate-limit counts Redis could not take, as scraped. */
async function storeErrors(t: TestApp): Promise<number> {
  const match = /^plangate_rate_limit_store_errors_total (\d+)$/m.exec(await scrapeMetrics(t.app))
  if (!match) throw new Error('plangate_rate_limit_store_errors_total is not exposed')
  return Number(match[1])
}

async function ready(t: TestApp) {
  const res = await t.app.inject({ method: 'GET', url: '/ready' })
  return { status: res.statusCode, body: res.json() as Record<string, unknown> }
}

/** Polls /ready until it reports Redis healthy again (the client reconnects by itself). */
async function untilRedisOk(t: TestApp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while ((await ready(t)).body.redis !== 'ok') {
    if (Date.now() > deadline) throw new Error(`Redis still not ok after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Sends `send` and fails when the answer takes longer than `ms`. */
async function within<T>(ms: number, send: () => Promise<T>): Promise<T> {
  const started = performance.now()
  const result = await send()
  expect(performance.now() - started).toBeLessThan(ms)
  return result
}

describe.runIf(binary !== null)('rate limits shared through Redis', () => {
  let redis: RedisServer
  beforeAll(async () => {
    redis = await startRedisServer(binary as string)
  })
  afterAll(async () => {
    await redis?.stop()
  })

  describe('two instances on one database and one Redis', () => {
    let a: TestApp
    let b: TestApp
    let dropDatabase: () => Promise<void>
    beforeAll(async () => {
      const testDb = await createTestDatabase()
      dropDatabase = () => testDb.drop()
      const env = {
        REDIS_URL: redis.url,
        RATE_LIMIT_PER_MINUTE: '4',
        AUTH_RATE_LIMIT_PER_MINUTE: '3',
        AUTH_IP_RATE_LIMIT_PER_MINUTE: '5',
      }
      a = await buildTestApp(env, { testDb })
      b = await buildTestApp(env, { testDb })
    })
    afterAll(async () => {
      await a?.close()
      await b?.close()
      await dropDatabase?.()
    })

    it('answers 429 at the global limit, not at twice it, for requests alternating between them', async () => {
      const ip = freshIp()
      const statuses = []
      for (let i = 0; i < 6; i++) statuses.push((await plans(i % 2 ? b : a, ip)).statusCode)
      expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
      // Each instance saw the shared count.
      const last = await plans(a, ip)
      expect(last.statusCode).toBe(429)
      expect(last.headers['ratelimit-limit']).toBe('4')
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0)
    })

    it('shares the per-identifier auth limit: sign-in attempts alternating between instances', async () => {
      const ip = freshIp()
      const victim = uniqueEmail('victim')
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((await signIn(i % 2 ? b : a, victim, ip)).statusCode)
      expect(statuses).toEqual([401, 401, 401, 429])
    })

    it('shares the per-IP ceiling of the auth routes across instances', async () => {
      const ip = freshIp()
      const statuses = []
      for (let i = 0; i < 6; i++)
        statuses.push((await signIn(i % 2 ? b : a, uniqueEmail('spray'), ip)).statusCode)
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
    })

    it('counts each limit under its own key', async () => {
      const reader = new Redis(redis.url)
      try {
        const keys = await reader.keys('plangate:rl:*')
        expect(keys.some((key) => key.startsWith('plangate:rl:global:ip:'))).toBe(true)
        expect(keys.some((key) => key.startsWith('plangate:rl:auth:POST /v1/auth/token:auth:'))).toBe(true)
        expect(keys.some((key) => key.startsWith('plangate:rl:auth-ip:auth-ip:'))).toBe(true)
        expect(keys.every((key) => /^plangate:rl:(global|auth|auth-ip):/.test(key))).toBe(true)
      } finally {
        reader.disconnect()
      }
    })
  })

  describe('when Redis goes away', () => {
    let t: TestApp
    const logs = captureLog()
    beforeAll(async () => {
      t = await buildTestApp(
        { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '3', AUTH_RATE_LIMIT_PER_MINUTE: '2' },
        { log: logs.log },
      )
    })
    afterAll(async () => {
      await t?.close()
      await redis.start().catch(() => undefined)
    })

    it('serves every request without limits, counts each miss, logs the outage once, stays ready', async () => {
      expect(await ready(t)).toEqual({
        status: 200,
        body: { status: 'ok', database: 'ok', redis: 'ok', webhooks: { open: 0, half_open: 0 } },
      })
      const before = await storeErrors(t)
      await redis.stop()

      const ip = freshIp()
      for (let i = 0; i < 8; i++) expect((await within(2_000, () => plans(t, ip))).statusCode).toBe(200)
      const victim = uniqueEmail('victim')
      for (let i = 0; i < 4; i++)
        expect((await within(2_000, () => signIn(t, victim, ip))).statusCode).toBe(401)

      expect(await storeErrors(t)).toBeGreaterThanOrEqual(before + 12)
      expect(logs.warnings()).toEqual([expect.stringMatching(/^Redis unreachable/)])
      expect(await ready(t)).toEqual({
        status: 200,
        body: { status: 'ok', database: 'ok', redis: 'degraded', webhooks: { open: 0, half_open: 0 } },
      })
    })

    it('reconnects by itself once Redis is back, and limits apply again', async () => {
      await redis.start()
      await untilRedisOk(t)
      expect(logs.lines.some((line) => line.msg.startsWith('Redis answers again'))).toBe(true)
      const ip = freshIp()
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((await plans(t, ip)).statusCode)
      expect(statuses).toEqual([200, 200, 200, 429])
      expect(logs.warnings()).toHaveLength(1)
    })

    it('logs a new outage again after Redis had answered in between', async () => {
      await redis.stop()
      expect((await plans(t, freshIp())).statusCode).toBe(200)
      expect((await plans(t, freshIp())).statusCode).toBe(200)
      expect(logs.warnings()).toEqual([
        expect.stringMatching(/^Redis unreachable/),
        expect.stringMatching(/^Redis unreachable/),
      ])
      await redis.start()
      await untilRedisOk(t)
    })

    it('does not hold a request while Redis is stuck: served after the command timeout, and ready', async () => {
      const before = await storeErrors(t)
      redis.freeze()
      try {
        const ip = freshIp()
        for (let i = 0; i < 5; i++) expect((await within(2_000, () => plans(t, ip))).statusCode).toBe(200)
        expect(await storeErrors(t)).toBe(before + 5)
        const { status, body } = await ready(t)
        expect(status).toBe(200)
        expect(body.redis).toBe('degraded')
        expect(logs.warnings()).toHaveLength(3)
      } finally {
        redis.thaw()
      }
      // The next count Redis takes ends the outage.
      await plans(t, freshIp())
      await untilRedisOk(t)
    })
  })
})

describe.runIf(testDbKind === 'pglite')('without REDIS_URL', () => {
  it('keeps the in-memory store and says nothing about Redis in /ready', async () => {
    const t = await buildTestApp({ RATE_LIMIT_PER_MINUTE: '2' })
    try {
      expect(t.deps.redis).toBeUndefined()
      expect((await ready(t)).body).not.toHaveProperty('redis')
      const ip = freshIp()
      const statuses = []
      for (let i = 0; i < 3; i++) statuses.push((await plans(t, ip)).statusCode)
      expect(statuses).toEqual([200, 200, 429])
      expect(await scrapeMetrics(t.app)).not.toContain('plangate_rate_limit_store_errors_total')
    } finally {
      await t.close()
    }
  })
})
