import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, type TestApp } from './helpers/app.ts'

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
    } finally {
      await t.app.close()
      await t.testDb.drop().catch(() => undefined)
    }
  })
})
