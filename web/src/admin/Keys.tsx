// Site API keys: a site key acts on every account within its scopes (plans:write pushes plans).
// Made with scopes, the secret shown once, revoked at once; listed with when each was last used.
import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { date, dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { Pager, StatusBadge, useAction, usePaged } from './common.tsx'

const scopes = [
  ['accounts:read', 'Read accounts, subscriptions, invoices, staff and bookings'],
  ['accounts:write', 'Update accounts and invite people'],
  ['subscriptions:write', 'Subscribe, change plan, cancel, resume'],
  ['entitlements:read', 'Read entitlements and check features'],
  ['usage:write', 'Record usage'],
  ['resources:write', 'Add and remove staff and bookings'],
  ['plans:write', 'Create, change and retire plans (plangate plans push)'],
] as const

type Scope = (typeof scopes)[number][0]

export function AdminKeys() {
  const keys = usePaged(
    async (cursor) => unwrap(await api.GET('/v1/admin/api-keys', { params: { query: { cursor } } })),
    [],
  )
  const [name, setName] = useState('')
  const [chosen, setChosen] = useState<Set<Scope>>(new Set(['entitlements:read']))
  const [secret, setSecret] = useState<string | null>(null)
  const action = useAction()

  const toggle = (scope: Scope) =>
    setChosen((current) => {
      const next = new Set(current)
      if (next.has(scope)) next.delete(scope)
      else next.add(scope)
      return next
    })
  const create = (event: FormEvent) => {
    event.preventDefault()
    void action.run(async () => {
      setSecret(null)
      const made = unwrap(await api.POST('/v1/admin/api-keys', { body: { name, scopes: [...chosen] } }))
      setSecret(made.key)
      setName('')
      await keys.reload()
      return null
    })
  }
  const revoke = (keyId: string, keyName: string) =>
    action.run(async () => {
      unwrap(await api.DELETE('/v1/admin/api-keys/{keyId}', { params: { path: { keyId } } }))
      await keys.reload()
      return `Key “${keyName}” revoked: it is refused from now on.`
    })

  return (
    <>
      <h2>Site API keys</h2>
      <p className="muted">A site key acts on every account, within its scopes. Keep it on servers only.</p>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {secret && (
        <Notice kind="success">
          <p>Copy the key now: it is not shown again.</p>
          <code className="secret">{secret}</code>
        </Notice>
      )}
      {keys.error && <Notice kind="error">{keys.error}</Notice>}
      {keys.data?.data.length === 0 && <p className="muted">No site keys yet.</p>}
      {keys.data && keys.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.data.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>{date(key.created_at)}</td>
                <td>
                  {key.revoked_at ? (
                    <>
                      <StatusBadge status="revoked" /> {date(key.revoked_at)}
                    </>
                  ) : key.last_used_at ? (
                    dateTime(key.last_used_at)
                  ) : (
                    'never'
                  )}
                </td>
                <td>
                  {!key.revoked_at && (
                    <Button
                      type="button"
                      kind="secondary"
                      busy={action.busy}
                      onClick={() => void revoke(key.id, key.name)}
                    >
                      Revoke <span className="visually-hidden">{key.name}</span>
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={keys} label="site keys" />
      <form onSubmit={create} className="card" aria-label="Create a site key">
        <h3>Create a site key</h3>
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
        <Button busy={action.busy} disabled={chosen.size === 0}>
          Create key
        </Button>
      </form>
    </>
  )
}
