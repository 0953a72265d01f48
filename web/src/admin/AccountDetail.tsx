// One account as a site admin reads it: the account, its subscription, entitlements, usage (the
// staff count and 30 days of bookings), invoices (open manual ones can be marked paid or failed),
// the subscription's history and its audit entries.
import { type components, PlangateError, unwrap } from '@plangate/sdk'
import { useState } from 'react'
import { Link, useParams } from 'react-router'
import { count, date, dateTime, featureName, money } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { BookingsChart } from '../ui/BookingsChart.tsx'
import { Button, Notice } from '../ui/kit.tsx'
import { SubscriptionHistory } from '../ui/SubscriptionHistory.tsx'
import { AuditTable } from './AuditLog.tsx'
import { Pager, StatusBadge, useAction, usePaged } from './common.tsx'

type Invoice = components['schemas']['Invoice']

export function AdminAccountDetail() {
  const { accountId = '' } = useParams()
  const path = { params: { path: { accountId } } }
  const account = useLoad(async () => unwrap(await api.GET('/v1/accounts/{accountId}', path)), [accountId])
  const subscription = useLoad(async () => {
    try {
      return unwrap(await api.GET('/v1/accounts/{accountId}/subscription', path))
    } catch (caught) {
      if (caught instanceof PlangateError && caught.status === 404) return null
      throw caught
    }
  }, [accountId])
  const entitlements = useLoad(
    async () => unwrap(await api.GET('/v1/accounts/{accountId}/entitlements', path)),
    [accountId],
  )
  const invoices = useLoad(
    async () => unwrap(await api.GET('/v1/accounts/{accountId}/invoices', path)).data,
    [accountId],
  )
  const audit = usePaged(
    async (cursor) =>
      unwrap(await api.GET('/v1/admin/audit-log', { params: { query: { account_id: accountId, cursor } } })),
    [accountId],
  )
  const action = useAction()
  // Counts the invoices marked here (paying one may change the subscription), so the history reads again.
  const [marked, setMarked] = useState(0)

  const mark = (invoice: Invoice, outcome: 'paid' | 'failed') =>
    action.run(async () => {
      const params = { params: { path: { id: invoice.id } } }
      if (outcome === 'paid') unwrap(await api.POST('/v1/admin/invoices/{id}/mark-paid', params))
      else unwrap(await api.POST('/v1/admin/invoices/{id}/mark-failed', params))
      await Promise.all([invoices.reload(), subscription.reload(), entitlements.reload(), audit.reload()])
      setMarked((n) => n + 1)
      return `Invoice “${invoice.description}” marked ${outcome}.`
    })

  if (account.error)
    return (
      <>
        <Notice kind="error">{account.error}</Notice>
        <p>
          <Link to="/admin/accounts">Back to the accounts</Link>
        </p>
      </>
    )
  const a = account.data
  if (!a) return <p aria-live="polite">Loading…</p>
  const s = subscription.data
  const features = Object.entries(entitlements.data?.features ?? {})
  const staff = entitlements.data?.features.staff
  return (
    <>
      <p>
        <Link to="/admin/accounts">Accounts</Link> <span aria-hidden="true">›</span> {a.name}
      </p>
      <h2>{a.name}</h2>
      <dl className="facts">
        <dt>Id</dt>
        <dd>
          <code>{a.id}</code>
        </dd>
        <dt>Time zone</dt>
        <dd>{a.timezone}</dd>
        <dt>External id</dt>
        <dd>{a.external_id ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{dateTime(a.created_at)}</dd>
      </dl>
      <p>
        <Link to={`/app/accounts/${a.id}`}>Open its pages in the portal</Link>
      </p>

      <section className="card" aria-labelledby="subscription">
        <h3 id="subscription">Subscription</h3>
        {subscription.error && <Notice kind="error">{subscription.error}</Notice>}
        {subscription.data === null && !subscription.error && <p className="muted">No subscription.</p>}
        {s && (
          <dl className="facts">
            <dt>Plan</dt>
            <dd>
              {s.plan} <StatusBadge status={s.status} />
            </dd>
            <dt>Provider</dt>
            <dd>{s.provider}</dd>
            <dt>Period</dt>
            <dd>
              {date(s.current_period_start, a.timezone)} – {date(s.current_period_end, a.timezone)}
            </dd>
            {s.trial_end && (
              <>
                <dt>Trial ends</dt>
                <dd>{date(s.trial_end, a.timezone)}</dd>
              </>
            )}
            {s.grace_until && (
              <>
                <dt>Grace until</dt>
                <dd>{date(s.grace_until, a.timezone)}</dd>
              </>
            )}
            {s.cancel_at_period_end && (
              <>
                <dt>Cancels</dt>
                <dd>at the end of the period</dd>
              </>
            )}
            {s.pending_plan && (
              <>
                <dt>Changes to</dt>
                <dd>{s.pending_plan} at the end of the period</dd>
              </>
            )}
          </dl>
        )}
      </section>

      <section className="card" aria-labelledby="entitlements">
        <h3 id="entitlements">Entitlements</h3>
        {entitlements.error && <Notice kind="error">{entitlements.error}</Notice>}
        {entitlements.data && !entitlements.data.has_access && (
          <p className="muted">No access now: every limit reads 0.</p>
        )}
        {features.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Feature</th>
                <th scope="col">Used</th>
                <th scope="col">Limit</th>
              </tr>
            </thead>
            <tbody>
              {features.map(([key, feature]) => (
                <tr key={key}>
                  <td>{featureName(key)}</td>
                  {feature.kind === 'boolean' ? (
                    <>
                      <td>—</td>
                      <td>{feature.enabled ? 'on' : 'off'}</td>
                    </>
                  ) : (
                    <>
                      <td>
                        {feature.used}
                        {feature.kind === 'per_day' && ' today'}
                        {feature.kind === 'per_month' && ' this month'}
                        {feature.over_limit && (
                          <>
                            {' '}
                            <StatusBadge status="over limit" />
                          </>
                        )}
                      </td>
                      <td>{feature.limit ?? 'unlimited'}</td>
                    </>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {entitlements.data?.features.bookings_per_day && (
        <BookingsChart accountId={a.id} level={3} title="Usage">
          {staff && staff.kind !== 'boolean' && (
            <dl className="facts">
              <dt>Staff</dt>
              <dd>
                {staff.limit === null
                  ? `${count(staff.used, 'staff member')}, unlimited`
                  : `${staff.used} of ${count(staff.limit, 'staff member')}`}
                {staff.over_limit && (
                  <>
                    {' '}
                    <StatusBadge status="over limit" />
                  </>
                )}
              </dd>
            </dl>
          )}
        </BookingsChart>
      )}

      <section className="card" aria-labelledby="invoices">
        <h3 id="invoices">Invoices</h3>
        {action.error && <Notice kind="error">{action.error}</Notice>}
        {action.done && <Notice kind="success">{action.done}</Notice>}
        {invoices.error && <Notice kind="error">{invoices.error}</Notice>}
        {invoices.data?.length === 0 && <p className="muted">No invoices.</p>}
        {invoices.data && invoices.data.length > 0 && (
          <table>
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Description</th>
                <th scope="col">Amount</th>
                <th scope="col">Provider</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invoices.data.map((invoice) => {
                const manual = invoice.provider === 'manual'
                return (
                  <tr key={invoice.id}>
                    <td>{date(invoice.created_at, a.timezone)}</td>
                    <td>{invoice.description}</td>
                    <td>{money(invoice.amount_cents, invoice.currency)}</td>
                    <td>{invoice.provider}</td>
                    <td>
                      <StatusBadge status={invoice.status} />
                    </td>
                    <td>
                      <div className="actions">
                        {manual && (invoice.status === 'open' || invoice.status === 'failed') && (
                          <Button
                            type="button"
                            kind="secondary"
                            busy={action.busy}
                            onClick={() => void mark(invoice, 'paid')}
                          >
                            Mark paid <span className="visually-hidden">{invoice.description}</span>
                          </Button>
                        )}
                        {manual && invoice.status === 'open' && (
                          <Button
                            type="button"
                            kind="danger"
                            busy={action.busy}
                            onClick={() => void mark(invoice, 'failed')}
                          >
                            Mark failed <span className="visually-hidden">{invoice.description}</span>
                          </Button>
                        )}
                      </div>
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </section>

      <SubscriptionHistory
        accountId={a.id}
        timezone={a.timezone}
        level={3}
        includeRetiredPlans
        version={marked}
      />

      <section aria-labelledby="audit">
        <h3 id="audit">Audit entries</h3>
        {audit.error && <Notice kind="error">{audit.error}</Notice>}
        {audit.data?.data.length === 0 && <p className="muted">No entries.</p>}
        {audit.data && audit.data.data.length > 0 && <AuditTable entries={audit.data.data} />}
        <Pager paged={audit} label="audit entries" />
      </section>
    </>
  )
}
