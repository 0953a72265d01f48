// The dashboard's start: revenue and churn as of now (`GET /v1/admin/metrics`), as labelled figures.
import { unwrap } from '@plangate/sdk'
import { dateTime, money } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { BarChart } from '../ui/Chart.tsx'
import { Notice } from '../ui/kit.tsx'

const percent = (rate: number) =>
  new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 2 }).format(rate)

export function AdminOverview() {
  const metrics = useLoad(async () => unwrap(await api.GET('/v1/admin/metrics')), [])
  const m = metrics.data
  return (
    <>
      <h2>Overview</h2>
      {metrics.error && <Notice kind="error">{metrics.error}</Notice>}
      {!m && !metrics.error && <p aria-live="polite">Loading…</p>}
      {m && (
        <>
          <p className="muted">As of {dateTime(m.as_of)}.</p>
          <dl className="figures">
            <div className="figure">
              <dt>MRR</dt>
              <dd>{money(m.mrr_cents, m.currency)}</dd>
            </div>
            {Object.entries(m.mrr_by_currency)
              .filter(([currency]) => currency !== m.currency)
              .map(([currency, cents]) => (
                <div className="figure" key={currency}>
                  <dt>MRR in {currency.toUpperCase()}</dt>
                  <dd>{money(cents, currency)}</dd>
                </div>
              ))}
            <div className="figure">
              <dt>Active subscriptions</dt>
              <dd>{m.active}</dd>
            </div>
            <div className="figure">
              <dt>Trials</dt>
              <dd>{m.trialing}</dd>
            </div>
            <div className="figure">
              <dt>Past due (in grace)</dt>
              <dd>{m.past_due}</dd>
            </div>
            <div className="figure">
              <dt>Canceled, access until period end</dt>
              <dd>{m.canceled_pending}</dd>
            </div>
            <div className="figure">
              <dt>Churn, last 30 days</dt>
              <dd>
                {m.churn_30d.active_at_start === 0 ? (
                  <>
                    —{' '}
                    <span className="muted">
                      (none was active 30 days ago; {m.churn_30d.canceled_or_expired} ended since)
                    </span>
                  </>
                ) : (
                  <>
                    {percent(m.churn_30d.rate)}{' '}
                    <span className="muted">
                      ({m.churn_30d.canceled_or_expired} of {m.churn_30d.active_at_start})
                    </span>
                  </>
                )}
              </dd>
            </div>
          </dl>
          <section aria-labelledby="by-plan">
            <h3 id="by-plan">Paying subscriptions by plan</h3>
            {m.active_by_plan.length === 0 ? (
              <p className="muted">No paying subscriptions yet.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">Plan</th>
                    <th scope="col">Subscriptions</th>
                    <th scope="col">MRR</th>
                  </tr>
                </thead>
                <tbody>
                  {m.active_by_plan.map((row) => (
                    <tr key={`${row.plan}-${row.currency}`}>
                      <td>{row.plan}</td>
                      <td>{row.count}</td>
                      <td>{money(row.mrr_cents, row.currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <MetricsCharts />
        </>
      )}
    </>
  )
}

/** The overview's figures over the last 90 days, one chart each, from the metrics series. */
function MetricsCharts() {
  const series = useLoad(async () => unwrap(await api.GET('/v1/admin/metrics/series')), [])
  if (series.error) return <Notice kind="error">{series.error}</Notice>
  if (!series.data) return null
  const { points, currency } = series.data
  const bars = (value: (point: (typeof points)[number]) => number) =>
    points.map((point) => ({ label: point.date, value: value(point) }))
  return (
    <section className="card charts" aria-labelledby="over-time">
      <h2 id="over-time">The last 90 days</h2>
      <BarChart
        title="MRR at the end of each day"
        bars={bars((point) => point.mrr_cents)}
        unit={`MRR (${currency})`}
        format={(cents) => money(cents, currency)}
      />
      <BarChart title="Active subscriptions" bars={bars((point) => point.active)} unit="active" />
      <BarChart title="Trials" bars={bars((point) => point.trialing)} unit="trialing" />
      <BarChart title="Past due" bars={bars((point) => point.past_due)} unit="past due" />
      <BarChart
        title="Churned (access ended that day)"
        bars={bars((point) => point.churned)}
        unit="churned"
      />
    </section>
  )
}
