// Bookings per day over the last 30 days (`GET …/usage/history`), against the plan's daily limit,
// with its figures as text: the portal's overview and the dashboard's account page show it.
import { unwrap } from '@plangate/sdk'
import type { ReactNode } from 'react'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { BarChart } from './Chart.tsx'
import { Notice } from './kit.tsx'

export function BookingsChart({
  accountId,
  level = 2,
  title = 'Bookings, last 30 days',
  children,
}: {
  accountId: string
  title?: string
  /** The heading's level where the chart sits (the portal's sections are h2, the dashboard's h3). */
  level?: 2 | 3
  /** Shown above the chart (the dashboard adds the staff count). */
  children?: ReactNode
}) {
  const history = useLoad(
    async () =>
      unwrap(
        await api.GET('/v1/accounts/{accountId}/usage/history', {
          params: { path: { accountId }, query: { feature: 'bookings_per_day' } },
        }),
      ),
    [accountId],
  )
  const Heading = level === 3 ? 'h3' : 'h2'
  if (history.error) return <Notice kind="error">{history.error}</Notice>
  if (!history.data) return null
  return (
    <section className="card" aria-labelledby="bookings-history">
      <Heading id="bookings-history">{title}</Heading>
      {children}
      <BarChart
        title="Bookings per day against the daily limit"
        bars={history.data.data.map((entry) => ({ label: entry.period, value: entry.used }))}
        limit={history.data.limit}
        limitLabel="daily limit"
        noLimit="no plan that allows bookings, so no daily limit"
        allZero={`no bookings in these ${history.data.data.length} days`}
        unit="bookings"
      />
    </section>
  )
}
