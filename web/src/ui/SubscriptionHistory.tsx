// An account's subscription history (`GET …/subscription/history`), newest first, a page at a
// time: each change said in words ("Upgraded from Basic to Pro"), with its date, the status
// before and after, who made it when the API names a person, and the price paid after it. The portal's plan page and the
// dashboard's account page both show it.
import { type components, unwrap } from '@plangate/sdk'
import { dateTime, money } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Notice } from './kit.tsx'
import { Pager, usePaged } from './lists.tsx'

export type SubscriptionEvent = components['schemas']['SubscriptionEvent']

/** Plan names by code, for the sentences; a plan not found reads as its code. */
type PlanNames = (code: string | null | undefined) => string

const words = (text: string) => text.replaceAll('_', ' ')
const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1)

/** What happened, in a sentence. Types the UI does not know yet read as their name. */
export function describeEvent(event: SubscriptionEvent, planName: PlanNames): string {
  const data = event.data
  const from = planName(event.from_plan)
  const to = planName(event.plan)
  switch (event.type) {
    case 'created': {
      if (event.to_status === 'incomplete') return `Checkout started for ${to}`
      const trial = typeof data.trial_days === 'number' ? ` with a ${data.trial_days}-day trial` : ''
      return `Subscribed to ${to}${trial}`
    }
    case 'activated':
      return `Payment confirmed: ${to} is active`
    case 'upgraded': {
      const charged =
        typeof data.amount_cents === 'number' && data.amount_cents > 0
          ? `; ${money(data.amount_cents, event.price.currency)} charged`
          : ''
      return `Upgraded from ${from} to ${to}${charged}`
    }
    case 'downgraded':
      return `Downgraded from ${from} to ${to}`
    case 'plan_changed':
      return `Plan changed from ${from} to ${to}`
    case 'upgrade_awaiting_payment':
      return `Upgrade to ${planName(typeof data.plan === 'string' ? data.plan : event.plan)} awaiting payment`
    case 'canceled':
      return 'Canceled'
    case 'cancel_scheduled':
      return 'Cancellation scheduled for the end of the period'
    case 'resumed':
      return 'Resumed: the cancellation is withdrawn'
    case 'past_due':
      return 'A payment failed: past due'
    case 'recovered':
      return 'Payment received: active again'
    case 'renewed':
      return 'Renewed for a new period'
    case 'change_scheduled':
      return `Change to ${planName(typeof data.pending_plan === 'string' ? data.pending_plan : null)} scheduled for the end of the period`
    case 'scheduled_change_canceled':
      return 'Scheduled plan change withdrawn'
    case 'trial_ended':
      return 'Trial ended'
    case 'expired':
      return 'Expired: access ended'
    case 'checkout_expired':
      return 'Checkout expired without a payment'
    case 'trial_will_end':
      return 'Reminder sent: the trial ends soon'
    case 'grace_ending':
      return 'Reminder sent: the grace period for the payment ends soon'
    case 'updated': {
      const changed = Array.isArray(data.changed)
        ? data.changed.filter((name) => typeof name === 'string')
        : []
      return changed.length > 0 ? `Updated: ${changed.map(words).join(', ')}` : 'Updated'
    }
    default:
      return capitalized(words(event.type))
  }
}

function statusChange(event: SubscriptionEvent): string {
  if (!event.from_status || event.from_status === event.to_status) return words(event.to_status)
  return `${words(event.from_status)} → ${words(event.to_status)}`
}

export function SubscriptionHistory(props: {
  accountId: string
  timezone: string
  /** The heading's level where the component sits (the portal's sections are h2, the dashboard's h3). */
  level?: 2 | 3
  /** Site admins also name retired plans. */
  includeRetiredPlans?: boolean
  /** Changes when the page changed the subscription: the history is read again from its first page. */
  version?: number
}) {
  const { accountId } = props
  const Heading = props.level === 3 ? 'h3' : 'h2'
  const path = { accountId }
  const history = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/accounts/{accountId}/subscription/history', {
          params: { path, query: { limit: 20, cursor } },
        }),
      ),
    [accountId, props.version ?? 0],
  )
  const plans = useLoad(
    async () =>
      unwrap(
        await api.GET('/v1/plans', {
          params: { query: props.includeRetiredPlans ? { include_inactive: 'true' } : {} },
        }),
      ).data,
    [props.includeRetiredPlans ?? false],
  )
  // Who made a change: the account's members by id. Anyone else is not a member now: a site admin
  // or someone who left; the history does not say which, so neither is claimed.
  const members = useLoad(
    async () =>
      unwrap(await api.GET('/v1/accounts/{accountId}/members', { params: { path, query: { limit: 100 } } }))
        .data,
    [accountId],
  )
  const planName: PlanNames = (code) =>
    code ? (plans.data?.find((plan) => plan.code === code)?.name ?? code) : 'no plan'
  const actor = (userId: string | null) => {
    if (!userId) return 'Automatic or an API key'
    const member = members.data?.find((m) => m.user_id === userId)
    return member ? (member.name ?? member.email) : 'Not a member (a site admin or a former member)'
  }
  const events = history.data?.data
  const headingId = `subscription-history-${accountId}`
  return (
    <section className="card" aria-labelledby={headingId}>
      <Heading id={headingId}>Subscription history</Heading>
      {history.error && <Notice kind="error">{history.error}</Notice>}
      {!history.data && !history.error && <p aria-live="polite">Loading…</p>}
      {events?.length === 0 && <p className="muted">No changes yet: the history starts with a plan.</p>}
      {events && events.length > 0 && (
        <table className="history">
          <caption>Changes to the subscription, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">What happened</th>
              <th scope="col">Status</th>
              <th scope="col">By</th>
              <th scope="col">Price after</th>
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id}>
                <td>{dateTime(event.created_at, props.timezone)}</td>
                <td>{describeEvent(event, planName)}</td>
                <td>{statusChange(event)}</td>
                <td>{actor(event.actor_user_id)}</td>
                <td>
                  {money(event.price.amount_cents, event.price.currency)} a {event.price.interval}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={history} label="the subscription history" />
    </section>
  )
}
