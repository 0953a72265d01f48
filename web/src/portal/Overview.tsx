// The account at a glance: its subscription and its usage against the plan's limits.
import { type components, unwrap } from '@plangate/sdk'
import { Link } from 'react-router'
import { date, featureName } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { BookingsChart } from '../ui/BookingsChart.tsx'
import { Notice } from '../ui/kit.tsx'
import { Meter } from '../ui/Meter.tsx'
import { useAccount } from './AccountLayout.tsx'
import { SubscriptionSummary, useSubscription } from './subscription.tsx'

type Entitlements = components['schemas']['Entitlements']

export function useEntitlements(accountId: string) {
  return useLoad(
    async () =>
      unwrap(await api.GET('/v1/accounts/{accountId}/entitlements', { params: { path: { accountId } } })),
    [accountId],
  )
}

export function Meters({ entitlements }: { entitlements: Entitlements }) {
  const entries = Object.entries(entitlements.features)
  const limits = entries.filter(([, feature]) => feature.kind !== 'boolean')
  const flags = entries.filter(([, feature]) => feature.kind === 'boolean')
  return (
    <section className="card" aria-labelledby="usage">
      <h2 id="usage">Usage</h2>
      <div className="meters">
        {limits.map(([key, feature]) => {
          if (feature.kind === 'boolean') return null
          const label =
            key === 'staff' ? 'Staff' : key === 'bookings_per_day' ? 'Bookings today' : featureName(key)
          const unit = key === 'staff' ? 'staff members' : key === 'bookings_per_day' ? 'bookings' : 'used'
          const note =
            feature.kind === 'per_day'
              ? `Today is ${feature.date}; counts start again at ${new Date(feature.resets_at).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}.`
              : feature.kind === 'per_month'
                ? `This month (${feature.month}).`
                : undefined
          return (
            <Meter
              key={key}
              label={label}
              used={feature.used}
              limit={feature.limit}
              unit={unit}
              note={note}
            />
          )
        })}
      </div>
      {flags.length > 0 && (
        <ul className="flags">
          {flags.map(([key, feature]) => (
            <li key={key}>
              {featureName(key)}:{' '}
              {feature.kind === 'boolean' && feature.enabled ? 'included' : 'not included'}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

export function Overview() {
  const { account } = useAccount()
  const subscription = useSubscription(account.id)
  const entitlements = useEntitlements(account.id)
  return (
    <>
      {subscription.error && <Notice kind="error">{subscription.error}</Notice>}
      {subscription.loaded && (
        <SubscriptionSummary subscription={subscription.data} timezone={account.timezone} />
      )}
      {entitlements.error && <Notice kind="error">{entitlements.error}</Notice>}
      {entitlements.data?.has_access && <Meters entitlements={entitlements.data} />}
      {entitlements.data && !entitlements.data.has_access && (
        <Notice kind="info">
          Without a plan that grants access, staff and bookings cannot be added.{' '}
          <Link to="plan">Choose a plan</Link>
        </Notice>
      )}
      {entitlements.data?.features.bookings_per_day && <BookingsChart accountId={account.id} />}
      <p className="muted">Account created {date(account.created_at)}.</p>
    </>
  )
}
