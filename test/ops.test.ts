import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { emitEvent } from '../src/modules/webhooks/events.ts'
import {
  bearer,
  buildTestApp,
  loginAdmin,
  scrapeMetrics,
  subscribedAccount,
  type TestApp,
} from './helpers/app.ts'
import { billingCustomer, createPlan } from './helpers/billing.ts'
import { expectData, testClient } from './helpers/client.ts'
import { type FakeStripe, startFakeStripe } from './helpers/fake-stripe/index.ts'

/** The sum of a metric's samples whose labels include `labels` (undefined when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match?.[1] !== name) continue
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    )
    if (Object.entries(labels).every(([key, value]) => found[key] === value))
      sum = (sum ?? 0) + Number(match[3])
  }
  return sum
}

const metricsToken = 'metrics-token-for-the-ops-tests'

describe('ops endpoints', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ METRICS_TOKEN: metricsToken })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('answers /health and /ready', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' })
    const ready = await t.app.inject({ method: 'GET', url: '/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ status: 'ok', database: 'ok', webhooks: { open: 0, half_open: 0 } })
  })

  it('exposes Prometheus metrics with HTTP latency histograms by route', async () => {
    await t.app.inject({ method: 'GET', url: '/v1/plans' })
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(metricsToken) })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/plain')
    expect(res.body).toContain('http_request_duration_seconds_bucket')
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/v1\/plans",status_code="200"\} \d+/,
    )
    expect(res.body).toContain('process_cpu_seconds_total')
  })

  it('serves an OpenAPI 3.1 document in which every operation has an id, a summary and problem responses', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    expect(doc.openapi).toBe('3.1.0')
    const operations = Object.entries(
      doc.paths as Record<string, Record<string, Record<string, unknown>>>,
    ).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
    expect(operations.length).toBeGreaterThan(30)
    for (const { path, method, op } of operations) {
      expect(op.operationId, `${method} ${path}`).toEqual(expect.any(String))
      expect(op.summary, `${method} ${path}`).toEqual(expect.any(String))
      if (path.startsWith('/v1/')) {
        const responses = op.responses as Record<string, unknown>
        expect(
          Object.keys(responses).some((status) => status.startsWith('4')),
          `${method} ${path}`,
        ).toBe(true)
      }
    }
    const docs = await t.app.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.headers['content-type']).toContain('text/html')
  })

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const kept = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } })
    expect(kept.headers['x-request-id']).toBe('abc-123')
    const replaced = await t.app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'bad id\n' },
    })
    expect(replaced.headers['x-request-id']).not.toBe('bad id\n')
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('sends security headers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' })
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN')
    expect(res.headers['content-security-policy']).toBeDefined()
  })
})

describe('when the database is gone', () => {
  it('answers /ready 503 and API requests 503 service_unavailable, never 500', async () => {
    const t = await buildTestApp()
    try {
      await t.testDb.database.close()
      const ready = await t.app.inject({ method: 'GET', url: '/ready' })
      expect(ready.statusCode).toBe(503)
      const plans = await t.app.inject({ method: 'GET', url: '/v1/plans' })
      expect(plans.statusCode).toBe(503)
      expect(plans.json()).toMatchObject({ code: 'service_unavailable' })
      // The scrape still answers: the job queues' depth, which needs the database, is left out.
      const metrics = await scrapeMetrics(t.app)
      expect(metrics).toContain('http_request_duration_seconds_bucket')
      expect(sample(metrics, 'plangate_jobs_queue_depth')).toBeUndefined()
    } finally {
      await t.app.close()
      await t.testDb.drop().catch(() => undefined)
    }
  })
})

describe('service metrics', () => {
  let t: TestApp
  let receiver: Server
  let receiverUrl: string
  beforeAll(async () => {
    // Retries are due at once, so `drain` runs a failing delivery through all its attempts; the
    // endpoint breaker stays out of the way.
    t = await buildTestApp({ WEBHOOK_RETRY_DELAY_SECONDS: '0', WEBHOOK_BREAKER_FAILURES: '100' })
    // A local receiver: /ok answers 204, anything else 500.
    receiver = createServer((req, res) => {
      req.resume()
      req.on('end', () => res.writeHead(req.url === '/ok' ? 204 : 500).end())
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()))
    await t?.close()
  })

  it('counts limit decisions by feature and outcome: creates and checks, admitted and refused', async () => {
    const { owner, account } = await subscribedAccount(t.app, 'basic')
    const client = testClient(t.app, owner.token)
    const path = { accountId: account.id }
    // basic allows two staff members: two admitted, the third refused.
    for (const name of ['Ann', 'Bea'])
      await expectData(
        client.POST('/v1/accounts/{accountId}/staff', { params: { path }, body: { name } }),
        201,
      )
    const refused = await client.POST('/v1/accounts/{accountId}/staff', {
      params: { path },
      body: { name: 'Cid' },
    })
    expect(refused.response.status).toBe(403)
    const check = await expectData(
      client.POST('/v1/accounts/{accountId}/check', {
        params: { path },
        body: { feature: 'bookings_per_day', quantity: 1 },
      }),
      200,
    )
    expect(check.allowed).toBe(true)

    const metrics = await scrapeMetrics(t.app)
    expect(metrics).toContain('# HELP plangate_limit_decisions_total')
    expect(sample(metrics, 'plangate_limit_decisions_total', { feature: 'staff', outcome: 'admitted' })).toBe(
      2,
    )
    expect(sample(metrics, 'plangate_limit_decisions_total', { feature: 'staff', outcome: 'refused' })).toBe(
      1,
    )
    expect(
      sample(metrics, 'plangate_limit_decisions_total', { feature: 'bookings_per_day', outcome: 'admitted' }),
    ).toBe(1)
  })

  it('times job runs, counts failed ones and deliveries, measures delivery lag and reads queue depth', async () => {
    const admin = testClient(t.app, await loginAdmin(t.app))
    const endpoints = []
    for (const path of ['/ok', '/down'])
      endpoints.push(
        await expectData(
          admin.POST('/v1/webhook-endpoints', { body: { url: `${receiverUrl}${path}` } }),
          201,
        ),
      )
    // One event, one delivery to each endpoint: one delivered, one failing through all its attempts.
    await t.deps.db.transaction((tx) =>
      emitEvent(tx, t.deps, { type: 'subscription.created', accountId: null, data: {} }),
    )
    await t.deps.jobs.drain(t.deps)
    for (const endpoint of endpoints)
      await admin.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id: endpoint.id } } })

    const metrics = await scrapeMetrics(t.app)
    const queue = 'webhooks.deliver'
    expect(
      sample(metrics, 'plangate_job_duration_seconds_count', { queue, outcome: 'completed' }),
    ).toBeGreaterThanOrEqual(1)
    expect(sample(metrics, 'plangate_job_duration_seconds_count', { queue, outcome: 'failed' })).toBe(9)
    expect(sample(metrics, 'plangate_jobs_failed_total', { queue })).toBe(9)
    expect(sample(metrics, 'plangate_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1)
    expect(sample(metrics, 'plangate_webhook_deliveries_total', { outcome: 'failed' })).toBe(8)
    expect(sample(metrics, 'plangate_webhook_deliveries_total', { outcome: 'gave_up' })).toBe(1)
    expect(sample(metrics, 'plangate_webhook_delivery_lag_seconds_count')).toBe(1)
    // The given-up job stays failed; nothing is left waiting.
    expect(sample(metrics, 'plangate_jobs_queue_depth', { queue, state: 'failed' })).toBe(1)
    expect(sample(metrics, 'plangate_jobs_queue_depth', { queue, state: 'created' })).toBe(0)
    expect(sample(metrics, 'plangate_jobs_queue_depth', { queue: 'mail.send', state: 'active' })).toBe(0)
  })
})

describe('Stripe call metrics', () => {
  let t: TestApp
  let fake: FakeStripe
  beforeAll(async () => {
    fake = await startFakeStripe({ now: () => (t ? t.clock.now() : new Date()) })
    t = await buildTestApp({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
      STRIPE_API_URL: fake.url,
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('times each Stripe call by operation and outcome', async () => {
    const plan = await createPlan(t)
    const started = await (await billingCustomer(t)).subscribe(plan)
    expect(started.statusCode, started.body).toBe(202)
    const metrics = await scrapeMetrics(t.app)
    expect(metrics).toContain('# HELP plangate_stripe_call_duration_seconds')
    expect(
      sample(metrics, 'plangate_stripe_call_duration_seconds_count', { outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1)
    expect(
      sample(metrics, 'plangate_stripe_call_duration_seconds_count', { outcome: 'error' }),
    ).toBeUndefined()
    expect(sample(metrics, 'plangate_stripe_breaker_state')).toBe(0)
  })
})
