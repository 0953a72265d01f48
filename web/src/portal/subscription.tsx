// The account's subscription: read (none is a normal state), and shown as a sentence or two.
import { type components, PlangateError, unwrap } from '@plangate/sdk'
import { useCallback, useEffect, useState } from 'react'
import { Link } from 'react-router'
import { date, money } from '../lib/format.ts'
import { api, messageOf } from '../lib/session.ts'
import { Badge } from '../ui/Meter.tsx'

export type Subscription = components['schemas']['Subscription']

export function useSubscription(accountId: string) {
  const [state, setState] = useState<{ loaded: boolean; data: Subscription | null; error: string | null }>({
    loaded: false,
    data: null,
    error: null,
  })
  const reload = useCallback(async () => {
    try {
      const data = unwrap(
        await api.GET('/v1/accounts/{accountId}/subscription', { params: { path: { accountId } } }),
      )
      setState({ loaded: true, data, error: null })
    } catch (caught) {
      if (caught instanceof PlangateError && caught.status === 404)
        setState({ loaded: true, data: null, error: null })
      else setState({ loaded: true, data: null, error: messageOf(caught) })
    }
  }, [accountId])
  useEffect(() => {
    void reload()
  }, [reload])
  return { ...state, reload }
}

const tones: Record<string, 'good' | 'warn' | 'bad' | 'neutral'> = {
  active: 'good',
  trialing: 'good',
  past_due: 'warn',
  canceled: 'warn',
  incomplete: 'neutral',
  expired: 'bad',
}

export function statusBadge(status: string) {
  return <Badge tone={tones[status] ?? 'neutral'}>{status.replace('_', ' ')}</Badge>
}

export function SubscriptionSummary({
  subscription,
  timezone,
}: {
  subscription: Subscription | null
  timezone: string
}) {
  if (!subscription) {
    return (
      <section className="card" aria-labelledby="subscription">
        <h2 id="subscription">Plan</h2>
        <p>
          No plan yet. <Link to="plan">Choose a plan</Link> to add staff and take bookings.
        </p>
      </section>
    )
  }
  const s = subscription
  return (
    <section className="card" aria-labelledby="subscription">
      <h2 id="subscription">
        Plan: <span className="plan-name">{s.plan}</span> {statusBadge(s.status)}
      </h2>
      <dl className="facts">
        <dt>Price</dt>
        <dd>
          {money(s.price.amount_cents, s.price.currency)} a {s.price.interval}
        </dd>
        {s.trial_end && s.status === 'trialing' && (
          <>
            <dt>Trial ends</dt>
            <dd>{date(s.trial_end, timezone)}</dd>
          </>
        )}
        <dt>{s.cancel_at_period_end || s.status === 'canceled' ? 'Access ends' : 'Renews'}</dt>
        <dd>{date(s.current_period_end, timezone)}</dd>
        {s.grace_until && s.status === 'past_due' && (
          <>
            <dt>Payment grace until</dt>
            <dd>{date(s.grace_until, timezone)}</dd>
          </>
        )}
        {s.pending_plan && (
          <>
            <dt>Changes to</dt>
            <dd>{s.pending_plan} at the end of the period</dd>
          </>
        )}
      </dl>
      {s.status === 'past_due' && (
        // True for both providers: a manual invoice that failed cannot be paid here, so the notice
        // does not ask for it; with Stripe the card can be changed in its billing portal.
        <p className="notice notice-error">
          A payment failed. Access continues until{' '}
          {s.grace_until ? date(s.grace_until, timezone) : 'the grace period ends'}; once the payment is made
          the plan is active again.
          {s.provider === 'stripe' &&
            ' To pay with another card, update it in the billing portal (Manage payment in Stripe, on Plan & billing).'}
        </p>
      )}
      {s.checkout_url && s.status === 'incomplete' && (
        <p>
          <a href={s.checkout_url}>Finish paying at checkout</a>
        </p>
      )}
    </section>
  )
}
