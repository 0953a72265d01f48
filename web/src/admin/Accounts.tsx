// Every account, newest first, searched by a part of the name or an exact id.
import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { Link } from 'react-router'
import { date } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { Pager, StatusBadge, usePaged } from './common.tsx'

export function AdminAccounts() {
  const [typed, setTyped] = useState('')
  const [q, setQ] = useState('')
  const accounts = usePaged(
    async (cursor) =>
      unwrap(await api.GET('/v1/admin/accounts', { params: { query: { q: q || undefined, cursor } } })),
    [q],
  )
  const search = (event: FormEvent) => {
    event.preventDefault()
    setQ(typed.trim())
  }
  return (
    <>
      <h2>Accounts</h2>
      <form className="inline-form" aria-label="Account search" onSubmit={search}>
        <Field
          label="Search accounts"
          name="q"
          type="search"
          value={typed}
          onChange={setTyped}
          hint="A part of the name, or an exact account id."
        />
        <Button>Search</Button>
      </form>
      {accounts.error && <Notice kind="error">{accounts.error}</Notice>}
      {accounts.data?.data.length === 0 && (
        <p className="muted">{q ? `No account matches “${q}”.` : 'No accounts yet.'}</p>
      )}
      {accounts.data && accounts.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Owner</th>
              <th scope="col">Members</th>
              <th scope="col">Subscription</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {accounts.data.data.map((account) => (
              <tr key={account.id}>
                <td>
                  <Link to={`/admin/accounts/${account.id}`}>{account.name}</Link>
                </td>
                <td>{account.owner_email ?? '—'}</td>
                <td>{account.member_count}</td>
                <td>
                  {account.subscription ? (
                    <>
                      {account.subscription.plan} <StatusBadge status={account.subscription.status} />
                    </>
                  ) : (
                    <span className="muted">none</span>
                  )}
                </td>
                <td>{date(account.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={accounts} label="accounts" />
    </>
  )
}
