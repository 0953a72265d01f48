// API keys, for the dashboard's site keys and an account's keys alike: listed with their prefix,
// scopes and last use; made with a name and scopes, the secret shown once; revoked at once.
import type { components } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { date, dateTime } from '../lib/format.ts'
import { Button, Field, Notice } from './kit.tsx'
import { type PageOf, Pager, useAction, usePaged } from './lists.tsx'
import { Badge } from './Meter.tsx'

type ApiKey = components['schemas']['ApiKey']
export type Scope = ApiKey['scopes'][number]

const scopeLabels: [Scope, string][] = [
  ['accounts:read', 'Read accounts, subscriptions, invoices, staff and bookings'],
  ['accounts:write', 'Update accounts and invite people'],
  ['subscriptions:write', 'Subscribe, change plan, cancel, resume'],
  ['entitlements:read', 'Read entitlements and check features'],
  ['usage:write', 'Record usage'],
  ['resources:write', 'Add and remove staff and bookings'],
  ['plans:write', 'Create, change and retire plans (plangate plans push); site keys only'],
]

export function ApiKeys(props: {
  /** Site keys may have plans:write; account keys may not. */
  site: boolean
  /** The page of keys after `cursor`. */
  load: (cursor: string | undefined) => Promise<PageOf<ApiKey>>
  /** Makes a key; answers its secret. */
  create: (name: string, scopes: Scope[]) => Promise<string>
  revoke: (keyId: string) => Promise<void>
  /** What the form is called, e.g. "Create a site key". */
  formLabel: string
  /** What an empty list says. */
  empty: string
  /** Reads again when this changes (the account). */
  reloadKey: readonly unknown[]
}) {
  const keys = usePaged(props.load, props.reloadKey)
  const scopes = scopeLabels.filter(([scope]) => props.site || scope !== 'plans:write')
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
      setSecret(await props.create(name, [...chosen]))
      setName('')
      await keys.reload()
      return null
    })
  }
  const revoke = (keyId: string, keyName: string) =>
    action.run(async () => {
      await props.revoke(keyId)
      await keys.reload()
      return `Key “${keyName}” revoked: it is refused from now on.`
    })

  return (
    <>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {secret && (
        <Notice kind="success">
          <p>Copy the key now: it is not shown again.</p>
          <code className="secret">{secret}</code>
        </Notice>
      )}
      {keys.error && <Notice kind="error">{keys.error}</Notice>}
      {keys.data?.data.length === 0 && <p className="muted">{props.empty}</p>}
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
                      <Badge tone="bad">revoked</Badge> {date(key.revoked_at)}
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
      <Pager paged={keys} label="keys" />
      <form onSubmit={create} className="card" aria-label={props.formLabel}>
        <h3>{props.formLabel}</h3>
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
