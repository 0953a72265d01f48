// A worker's /metrics: served to the METRICS_TOKEN bearer only, and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics } from './metrics.ts'
import { type MetricsServer, serveMetrics } from './metrics-server.ts'

describe('the metrics server of a worker', () => {
  const token = 'a-worker-metrics-token'
  const metrics = createMetrics({
    database: { poolStats: () => undefined },
    webhooks: { breakerStates: () => [] },
  })
  let server: MetricsServer
  let base: string
  beforeAll(async () => {
    server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0, token })
    base = `http://127.0.0.1:${server.port}`
  })
  afterAll(async () => {
    await server?.close()
  })

  it('serves the registry to the bearer of METRICS_TOKEN', async () => {
    metrics.jobRan('mail.send', 'failed', 0.2)
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    expect(text).toContain('plangate_jobs_failed_total{queue="mail.send"} 1')
    expect(text).toContain('plangate_job_duration_seconds_count{queue="mail.send",outcome="failed"} 1')
  })

  it('answers 401 without the token or with another, and 404 anywhere else', async () => {
    for (const headers of [{}, { authorization: 'Bearer another-token-entirely' }] as Record<
      string,
      string
    >[]) {
      const res = await fetch(`${base}/metrics`, { headers })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"')
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(((await res.json()) as { code: string }).code).toBe('unauthorized')
    }
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/ready'],
      ['POST', '/metrics'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}` } })
      expect(res.status, `${method} ${path}`).toBe(404)
      await res.body?.cancel()
    }
  })
})
