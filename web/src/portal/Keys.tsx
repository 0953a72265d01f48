// Account API keys: made with scopes, the secret shown once, revoked at once.
import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { date } from '../lib/format.ts'
import { api, messageOf } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { useAccount } from './AccountLayout.tsx'

const scopes = [
  ['accounts:read', 'Read the account, subscription, invoices, staff and bookings'],
  ['accounts:write', 'Update the account and invite people'],
  ['subscriptions:write', 'Subscribe, change plan, cancel, resume'],
  ['entitlements:read', 'Read entitlements and check features'],
  ['usage:write', 'Record usage'],
  ['resources:write', 'Add and remove staff and bookings'],
] as const

type Scope = (typeof scopes)[number][0]

export function KeysPage() {
  const { account } = useAccount()
  const path = { path: { accountId: account.id } }
  const keys = useLoad(
    async () =>
      unwrap(
        await api.GET('/v1/accounts/{accountId}/api-keys', { params: { ...path, query: { limit: 100 } } }),
      ).data,
    [account.id],
  )
  const [name, setName] = useState('')
  const [chosen, setChosen] = useState<Set<Scope>>(new Set(['entitlements:read']))
  const [secret, setSecret] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const toggle = (scope: Scope) =>
    setChosen((current) => {
      const next = new Set(current)
      if (next.has(scope)) next.delete(scope)
      else next.add(scope)
      return next
    })
  const create = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const made = unwrap(
        await api.POST('/v1/accounts/{accountId}/api-keys', {
          params: path,
          body: { name, scopes: [...chosen] },
        }),
      )
      setSecret(made.key)
      setName('')
      await keys.reload()
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  const revoke = async (keyId: string) => {
    setError(null)
    try {
      unwrap(
        await api.DELETE('/v1/accounts/{accountId}/api-keys/{keyId}', {
          params: { path: { accountId: account.id, keyId } },
        }),
      )
      await keys.reload()
    } catch (caught) {
      setError(messageOf(caught))
    }
  }
  return (
    <>
      <h2>API keys</h2>
      <p className="muted">
        Keys let your own software act on this account. Each key can do only what its scopes allow.
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      {secret && (
        <Notice kind="success">
          <p>Copy the key now: it is not shown again.</p>
          <code className="secret">{secret}</code>
        </Notice>
      )}
      {keys.data && keys.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{key.revoked_at ? `revoked ${date(key.revoked_at)}` : date(key.last_used_at)}</td>
                <td>
                  {!key.revoked_at && (
                    <Button type="button" kind="secondary" onClick={() => void revoke(key.id)}>
                      Revoke <span className="visually-hidden">{key.name}</span>
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={create} className="card" aria-label="Create a key">
        <Field label="Key name" name="key-name" value={name} onChange={setName} required />
        <fieldset>
          <legend>Scopes</legend>
          {scopes.map(([scope, label]) => (
            <label key={scope} className="check">
              <input type="checkbox" checked={chosen.has(scope)} onChange={() => toggle(scope)} />{' '}
              <code>{scope}</code> <span className="muted">{label}</span>
            </label>
          ))}
        </fieldset>
        <Button busy={busy} disabled={chosen.size === 0}>
          Create key
        </Button>
      </form>
    </>
  )
}
