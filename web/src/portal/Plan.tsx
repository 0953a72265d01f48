// Plan & billing: the plans to choose from, each change previewed before it is confirmed (price
// difference, what is due now, limits that would be exceeded), cancel and resume, invoices, and
// Stripe's Customer Portal when the subscription is billed by Stripe; the subscription's history.
import { type components, unwrap } from '@plangate/sdk'
import { useState } from 'react'
import { count, date, featureName, money } from '../lib/format.ts'
import { api, messageOf } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Notice, useFocusFallback, useFocusWhileOpen } from '../ui/kit.tsx'
import { SubscriptionHistory } from '../ui/SubscriptionHistory.tsx'
import { useAccount } from './AccountLayout.tsx'
import { SubscriptionSummary, statusBadge, useSubscription } from './subscription.tsx'

type Plan = components['schemas']['Plan']
type Preview = components['schemas']['ChangePreview']

function limitsOf(plan: Plan): string {
  const parts = Object.entries(plan.limits).map(([key, limit]) =>
    limit === null
      ? `unlimited ${featureName(key)}`
      : key === 'staff'
        ? count(limit, 'staff member')
        : key === 'bookings_per_day'
          ? `${count(limit, 'booking')} a day`
          : `${limit} ${featureName(key)}`,
  )
  return parts.join(', ') || 'no limits'
}

export function PlanPage() {
  const { account, canManage } = useAccount()
  const subscription = useSubscription(account.id)
  const plans = useLoad(async () => unwrap(await api.GET('/v1/plans')).data, [])
  const [preview, setPreview] = useState<Preview | null>(null)
  // A change can remove the button that was focused (the chosen plan's): the plans' heading then.
  const plansHeading = useFocusFallback<HTMLHeadingElement>()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)
  // Counts the changes made here, so the invoices and the history read them.
  const [changes, setChanges] = useState(0)
  const path = { path: { accountId: account.id } }
  const current = subscription.data && subscription.data.status !== 'expired' ? subscription.data : null
  /** A plan's name by its code (the code until the plans are read). */
  const planName = (code: string) => plans.data?.find((plan) => plan.code === code)?.name ?? code

  /** Runs an action of this page; one that changes the subscription (`changes`) reloads what it affects. */
  async function act(action: () => Promise<string | null>, changes = true) {
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      setDone(await action())
      if (!changes) return
      await subscription.reload()
      setChanges((n) => n + 1)
      plansHeading.after()
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }

  const showPreview = (plan: string) =>
    act(async () => {
      setPreview(
        unwrap(
          await api.GET('/v1/accounts/{accountId}/subscription/preview', {
            params: { ...path, query: { plan } },
          }),
        ),
      )
      return null
    }, false)

  const confirm = (target: Preview) =>
    act(async () => {
      setPreview(null)
      if (!current) {
        const started = unwrap(
          await api.POST('/v1/accounts/{accountId}/subscription', {
            params: path,
            body: { plan: target.plan },
          }),
        )
        if ('checkout_url' in started && !('id' in started)) {
          window.location.assign(started.checkout_url)
          return 'Taking you to checkout…'
        }
        return `You are on ${planName(target.plan)} now.`
      }
      unwrap(
        await api.PATCH('/v1/accounts/{accountId}/subscription', {
          params: path,
          body: { plan: target.plan, when: 'now' },
        }),
      )
      return `You are on ${planName(target.plan)} now.`
    })

  const cancel = () =>
    act(async () => {
      unwrap(
        await api.POST('/v1/accounts/{accountId}/subscription/cancel', {
          params: path,
          body: { at_period_end: true },
        }),
      )
      return 'Canceled: access continues until the end of the period. You can resume until then.'
    })
  const resume = () =>
    act(async () => {
      unwrap(await api.POST('/v1/accounts/{accountId}/subscription/resume', { params: path }))
      return 'Resumed: the plan renews as before.'
    })
  const portal = () =>
    act(async () => {
      const { url } = unwrap(await api.POST('/v1/accounts/{accountId}/billing-portal', { params: path }))
      window.location.assign(url)
      return 'Opening the billing portal…'
    }, false)

  return (
    <>
      <h2 className="visually-hidden">Plan and billing</h2>
      {error && <Notice kind="error">{error}</Notice>}
      {done && <Notice kind="success">{done}</Notice>}
      {subscription.loaded && (
        <SubscriptionSummary subscription={subscription.data} timezone={account.timezone} />
      )}
      {current && canManage && (
        <div className="actions">
          {current.cancel_at_period_end || current.status === 'canceled' ? (
            <Button type="button" kind="secondary" busy={busy} onClick={() => void resume()}>
              Resume the subscription
            </Button>
          ) : (
            <Button type="button" kind="secondary" busy={busy} onClick={() => void cancel()}>
              Cancel at the end of the period
            </Button>
          )}
          {current.provider === 'stripe' && (
            <Button type="button" kind="secondary" busy={busy} onClick={() => void portal()}>
              Manage payment in Stripe
            </Button>
          )}
        </div>
      )}

      <section aria-labelledby="plans">
        <h2 id="plans" ref={plansHeading.ref} tabIndex={-1}>
          Plans
        </h2>
        {plans.error && <Notice kind="error">{plans.error}</Notice>}
        <ul className="plans">
          {plans.data?.map((plan) => {
            const isCurrent = current?.plan === plan.code
            return (
              <li key={plan.code} className={`card plan${isCurrent ? ' plan-current' : ''}`}>
                <h3>
                  {plan.name} {isCurrent && statusBadge('current')}
                </h3>
                <p className="price">
                  {money(plan.price_cents, plan.currency)} <span className="muted">a {plan.interval}</span>
                </p>
                <p>{limitsOf(plan)}</p>
                {plan.trial_days > 0 && (
                  <p className="muted">{plan.trial_days}-day trial for new customers</p>
                )}
                {canManage && !isCurrent && (
                  <Button
                    type="button"
                    kind="secondary"
                    busy={busy}
                    onClick={() => void showPreview(plan.code)}
                  >
                    {current ? `Preview a change to ${plan.name}` : `Choose ${plan.name}`}
                  </Button>
                )}
              </li>
            )
          })}
        </ul>
      </section>

      {preview && (
        <PreviewDialog
          preview={preview}
          planName={planName(preview.plan)}
          timezone={account.timezone}
          busy={busy}
          onConfirm={() => void confirm(preview)}
          onClose={() => setPreview(null)}
        />
      )}
      <Invoices accountId={account.id} timezone={account.timezone} version={changes} />
      <SubscriptionHistory accountId={account.id} timezone={account.timezone} version={changes} />
    </>
  )
}

function PreviewDialog(props: {
  preview: Preview
  /** The target plan's name. */
  planName: string
  timezone: string
  busy: boolean
  onConfirm: () => void
  onClose: () => void
}) {
  const p = props.preview
  const heading = useFocusWhileOpen<HTMLHeadingElement>()
  const name = props.planName
  const action =
    p.change === 'new'
      ? `Subscribe to ${name}`
      : p.change === 'upgrade'
        ? `Upgrade to ${name}`
        : p.change === 'downgrade'
          ? `Downgrade to ${name}`
          : `Keep ${name}`
  return (
    <section className="card preview" aria-labelledby="preview">
      <h2 id="preview" ref={heading} tabIndex={-1}>
        {action}
      </h2>
      <dl className="facts">
        {p.current_plan && (
          <>
            <dt>Price difference</dt>
            <dd>
              {p.price_difference_cents >= 0 ? '+' : '−'}
              {money(Math.abs(p.price_difference_cents), p.currency)} per period
            </dd>
          </>
        )}
        {p.trial_end ? (
          // A new subscription that gets the plan's trial owes nothing until the trial ends.
          <>
            <dt>Trial</dt>
            <dd>
              Free trial until {date(p.trial_end, props.timezone)}; then{' '}
              {money(p.next_period_price_cents, p.currency)} per period
            </dd>
          </>
        ) : (
          <>
            <dt>Due now</dt>
            <dd>{money(p.amount_due_now_cents, p.currency)}</dd>
            <dt>Then</dt>
            <dd>
              {money(p.next_period_price_cents, p.currency)} per period from{' '}
              {date(p.period_end, props.timezone)}
            </dd>
          </>
        )}
      </dl>
      {p.exceeded_limits.length > 0 && (
        <Notice kind="error">
          On {name} you would be over its limits:{' '}
          {p.exceeded_limits
            .map((limit) => `${featureName(limit.feature)} ${limit.used} of ${limit.limit}`)
            .join('; ')}
          . Nothing is deleted, but adding more is refused until you are back under them.
        </Notice>
      )}
      <div className="actions">
        <Button type="button" busy={props.busy} onClick={props.onConfirm}>
          {`Confirm: ${action.charAt(0).toLowerCase()}${action.slice(1)}`}
        </Button>
        <Button type="button" kind="secondary" onClick={props.onClose}>
          Not now
        </Button>
      </div>
    </section>
  )
}

/** The account's invoices, read again whenever `version` changes (after each plan action here). */
function Invoices({
  accountId,
  timezone,
  version,
}: {
  accountId: string
  timezone: string
  version: number
}) {
  const invoices = useLoad(
    async () =>
      unwrap(await api.GET('/v1/accounts/{accountId}/invoices', { params: { path: { accountId } } })).data,
    [accountId, version],
  )
  return (
    <section className="card" aria-labelledby="invoices">
      <h2 id="invoices">Invoices</h2>
      {invoices.error && <Notice kind="error">{invoices.error}</Notice>}
      {invoices.data?.length === 0 && <p className="muted">No invoices yet.</p>}
      {invoices.data && invoices.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Description</th>
              <th scope="col">Amount</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="visually-hidden">Link</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {invoices.data.map((invoice) => (
              <tr key={invoice.id}>
                <td>{date(invoice.created_at, timezone)}</td>
                <td>{invoice.description}</td>
                <td>{money(invoice.amount_cents, invoice.currency)}</td>
                <td>{statusBadge(invoice.status)}</td>
                <td>{invoice.hosted_url && <a href={invoice.hosted_url}>View</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
