// The metric families the service exposes, and the Grafana dashboard in deploy/ that reads them:
// every name a panel queries is one the service exposes, and every family has a panel.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { StripeGuard } from '../stripe/guard.ts'
import { createMetrics, type Metrics, metricFamilies, queueDepthTimeoutMs } from './metrics.ts'

/** Metrics over stand-ins for every source, Stripe and Redis included: all families registered. */
function fullMetrics(depth: Parameters<Metrics['trackJobs']>[0]['depth']): Metrics {
  const metrics = createMetrics({
    database: { poolStats: () => ({ total: 3, idle: 1, waiting: 0, max: 10 }) },
    webhooks: { breakerStates: () => [{ endpointId: 'endpoint', state: 'closed' }] },
  })
  metrics.trackJobs({ depth })
  const guard = { state: 'closed', inFlight: 0, refusals: new Map() } as unknown as StripeGuard
  metrics.trackStripe(guard)
  metrics.trackRedis({ failures: 0 })
  return metrics
}

const exposed = (metrics: Metrics) => metrics.registry.getMetricsAsArray().map((metric) => metric.name)

interface Panel {
  type: string
  title: string
  datasource?: { type: string; uid: string }
  targets?: { expr: string; datasource?: { uid: string } }[]
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../../deploy/grafana/plangate.json', import.meta.url), 'utf8'),
) as {
  schemaVersion: number
  templating: { list: { name: string; type: string; query: string }[] }
  panels: Panel[]
}

const promqlWords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
])

/** The metric names an expression reads: identifiers that are not functions, keywords or label names. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '')
  return (
    [...bare.matchAll(/([A-Za-z_:][\w:]*)(\s*\()?/g)]
      .filter(([, name, call]) => name && !call && !promqlWords.has(name))
      .map(([, name]) => name as string)
      // A histogram is exposed as its family; its series add _bucket, _sum and _count.
      .map((name) => name.replace(/_(bucket|sum|count)$/, ''))
  )
}

describe('metric families', () => {
  it('lists exactly the plangate and HTTP families the registry holds', () => {
    const names = exposed(fullMetrics(async () => []))
    expect(names.filter((name) => name.startsWith('plangate_') || name.startsWith('http_')).sort()).toEqual(
      [...metricFamilies].sort(),
    )
  })

  it('reads the job queues’ depth at scrape time, and leaves it out when the database does not answer in time', async () => {
    const answering = fullMetrics(async () => [{ queue: 'mail.send', state: 'created', jobs: 3 }])
    expect(await answering.registry.metrics()).toContain(
      'plangate_jobs_queue_depth{queue="mail.send",state="created"} 3',
    )

    const hanging = fullMetrics(() => new Promise(() => undefined))
    const started = Date.now()
    const text = await hanging.registry.metrics()
    expect(Date.now() - started).toBeLessThan(queueDepthTimeoutMs + 1000)
    expect(text).not.toMatch(/^plangate_jobs_queue_depth\{/m)
    expect(text).toContain('plangate_limit_decisions_total')

    const failing = fullMetrics(async () => {
      throw new Error('connection lost')
    })
    expect(await failing.registry.metrics()).not.toMatch(/^plangate_jobs_queue_depth\{/m)
  })
})

describe('the Grafana dashboard (deploy/grafana/plangate.json)', () => {
  const panels = dashboard.panels.filter((panel) => panel.type !== 'row')
  const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr))

  it('is a current dashboard whose panels all query the DS_PROMETHEUS data source variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39)
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus' }),
    )
    expect(panels.length).toBeGreaterThan(10)
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe(`\${DS_PROMETHEUS}`)
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
    }
  })

  it('queries only metrics the service exposes, and every family it exposes', () => {
    const names = new Set(exposed(fullMetrics(async () => [])))
    const used = new Set(exprs.flatMap(metricNamesIn))
    for (const name of used) expect(names, `a panel queries ${name}`).toContain(name)
    for (const family of metricFamilies) expect(used, `no panel shows ${family}`).toContain(family)
  })

  it('finds the metric names in an expression', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{status_code=~"5.."}[$__rate_interval])))',
      ),
    ).toEqual(['http_request_duration_seconds'])
    expect(metricNamesIn('count(plangate_webhook_breaker_state == 2) or vector(0)')).toEqual([
      'plangate_webhook_breaker_state',
    ])
  })
})
