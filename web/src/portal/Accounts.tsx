// The portal's start: the person's accounts, and a form to create one (`?new=1`, the top bar's
// "New account", brings the focus to it).
import { type components, unwrap } from '@plangate/sdk'
import { type FormEvent, useCallback, useEffect, useRef, useState } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, messageOf } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'

type Account = components['schemas']['Account']

export function useAccounts() {
  const [accounts, setAccounts] = useState<Account[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = useCallback(async () => {
    try {
      setAccounts(unwrap(await api.GET('/v1/accounts', { params: { query: { limit: 100 } } })).data)
    } catch (caught) {
      setError(messageOf(caught))
    }
  }, [])
  useEffect(() => {
    void load()
  }, [load])
  return { accounts, error, reload: load }
}

export function Accounts() {
  const { accounts, error } = useAccounts()
  return (
    <main className="page">
      <h1>Your accounts</h1>
      {error && <Notice kind="error">{error}</Notice>}
      {accounts === null && !error && <p aria-live="polite">Loading…</p>}
      {accounts?.length === 0 && <p>You are not in any account yet. Create one for your business below.</p>}
      {accounts && accounts.length > 0 && (
        <ul className="list">
          {accounts.map((account) => (
            <li key={account.id}>
              <Link to={`/app/accounts/${account.id}`}>{account.name}</Link>
              <span className="muted"> · {account.role}</span>
            </li>
          ))}
        </ul>
      )}
      <CreateAccount />
    </main>
  )
}

/** The browser's time zone, with its UTC aliases read as UTC. */
const browserTimeZone = (): string => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  return [
    'Etc/UTC',
    'Etc/UCT',
    'Etc/Universal',
    'Etc/Zulu',
    'Etc/GMT',
    'GMT',
    'UCT',
    'Universal',
    'Zulu',
  ].includes(zone)
    ? 'UTC'
    : zone
}

/** The zones to choose from: the browser's list (which leaves out UTC), UTC, and the browser's own. */
const timeZones = (): string[] => {
  let zones: string[] = []
  try {
    zones = Intl.supportedValuesOf('timeZone')
  } catch {
    // An older browser: UTC and its own zone.
  }
  return [...new Set(['UTC', ...zones, browserTimeZone()])]
}

function CreateAccount() {
  const navigate = useNavigate()
  const [params] = useSearchParams()
  const asked = params.get('new') === '1'
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    if (!asked) return
    heading.current?.scrollIntoView({ block: 'start' })
    heading.current?.focus()
  }, [asked])
  const [name, setName] = useState('')
  const [timezone, setTimezone] = useState(browserTimeZone)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const account = unwrap(await api.POST('/v1/accounts', { body: { name, timezone } }))
      void navigate(`/app/accounts/${account.id}`)
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  return (
    <section className="card" aria-labelledby="create-account">
      <h2 id="create-account" ref={heading} tabIndex={-1}>
        Create an account
      </h2>
      {error && <Notice kind="error">{error}</Notice>}
      <form onSubmit={submit}>
        <Field label="Business name" name="name" value={name} onChange={setName} required />
        <div className="field">
          <label htmlFor="timezone">Time zone</label>
          <select
            id="timezone"
            name="timezone"
            value={timezone}
            onChange={(event) => setTimezone(event.target.value)}
          >
            {timeZones().map((zone) => (
              <option key={zone}>{zone}</option>
            ))}
          </select>
          <p className="hint">Days for daily limits start at midnight here.</p>
        </div>
        <Button busy={busy}>Create</Button>
      </form>
    </section>
  )
}
