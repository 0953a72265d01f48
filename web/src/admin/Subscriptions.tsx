// Every account's subscriptions, newest first, filtered by stored status, plan and provider.
import { type components, unwrap } from '@plangate/sdk'
import { useState } from 'react'
import { Link } from 'react-router'
import { date } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Notice } from '../ui/kit.tsx'
import { FilterSelect, Pager, StatusBadge, usePaged } from './common.tsx'

type Status = components['schemas']['Subscription']['status']

const statuses: readonly Status[] = ['incomplete', 'trialing', 'active', 'past_due', 'canceled', 'expired']
const providers = ['manual', 'stripe'] as const

export function AdminSubscriptions() {
  const [status, setStatus] = useState('')
  const [plan, setPlan] = useState('')
  const [provider, setProvider] = useState('')
  const plans = useLoad(
    async () =>
      unwrap(await api.GET('/v1/plans', { params: { query: { include_inactive: 'true' } } })).data.map(
        (p) => p.code,
      ),
    [],
  )
  const subscriptions = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/admin/subscriptions', {
          params: {
            query: {
              status: (status || undefined) as Status | undefined,
              plan: plan || undefined,
              provider: (provider || undefined) as (typeof providers)[number] | undefined,
              cursor,
            },
          },
        }),
      ),
    [status, plan, provider],
  )
  return (
    <>
      <h2>Subscriptions</h2>
      <form
        className="inline-form"
        aria-label="Filter subscriptions"
        onSubmit={(event) => event.preventDefault()}
      >
        <FilterSelect label="Status" value={status} onChange={setStatus} options={statuses} />
        <FilterSelect label="Plan" value={plan} onChange={setPlan} options={plans.data ?? []} />
        <FilterSelect label="Provider" value={provider} onChange={setProvider} options={providers} />
      </form>
      <p className="hint">
        The status filter matches the stored status; a subscription whose period ended but is not swept yet
        reads expired.
      </p>
      {subscriptions.error && <Notice kind="error">{subscriptions.error}</Notice>}
      {subscriptions.data?.data.length === 0 && <p className="muted">No subscriptions match.</p>}
      {subscriptions.data && subscriptions.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Plan</th>
              <th scope="col">Status</th>
              <th scope="col">Provider</th>
              <th scope="col">Period ends</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {subscriptions.data.data.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/admin/accounts/${s.account_id}`}>{s.account_name}</Link>
                </td>
                <td>
                  {s.plan}
                  {s.pending_plan && <span className="muted"> → {s.pending_plan}</span>}
                </td>
                <td>
                  <StatusBadge status={s.status} />
                  {s.cancel_at_period_end && <span className="muted"> cancels at period end</span>}
                </td>
                <td>{s.provider}</td>
                <td>{date(s.current_period_end)}</td>
                <td>{date(s.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={subscriptions} label="subscriptions" />
    </>
  )
}
