// Who changed what, newest first, filtered by action (exact, or a prefix such as `auth.*`) and by
// who acted.
import { type components, unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { Link } from 'react-router'
import { dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { FilterSelect, Json, Pager, usePaged } from './common.tsx'

type AuditEntry = components['schemas']['AuditEntry']
type ActorType = AuditEntry['actor_type']

const actorTypes: readonly ActorType[] = ['user', 'key', 'system', 'provider', 'anonymous']

function actorOf(entry: AuditEntry): string {
  if (entry.actor_type === 'user') return `user ${entry.actor_user_id ?? ''}`.trim()
  if (entry.actor_type === 'key') return `key ${entry.actor_key_id ?? ''}`.trim()
  return entry.actor_type
}

export function AuditTable({
  entries,
  showAccount = false,
}: {
  entries: AuditEntry[]
  showAccount?: boolean
}) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Action</th>
          <th scope="col">Actor</th>
          {showAccount && <th scope="col">Account</th>}
          <th scope="col">Subject</th>
          <th scope="col">Data</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.id}>
            <td>{dateTime(entry.created_at)}</td>
            <td>
              <code>{entry.action}</code>
            </td>
            <td className="wrap">{actorOf(entry)}</td>
            {showAccount && (
              <td>
                {entry.account_id ? (
                  <Link to={`/admin/accounts/${entry.account_id}`}>
                    <span className="visually-hidden">Account </span>
                    {entry.account_id.slice(0, 8)}
                  </Link>
                ) : (
                  '—'
                )}
              </td>
            )}
            <td className="wrap">
              {entry.subject_type}
              {entry.subject_id && <span className="muted"> {entry.subject_id}</span>}
            </td>
            <td className="wrap">
              <Json value={entry.data} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function AdminAuditLog() {
  const [typed, setTyped] = useState('')
  const [action, setAction] = useState('')
  const [actorType, setActorType] = useState('')
  const entries = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/admin/audit-log', {
          params: {
            query: {
              action: action || undefined,
              actor_type: (actorType || undefined) as ActorType | undefined,
              cursor,
            },
          },
        }),
      ),
    [action, actorType],
  )
  const filter = (event: FormEvent) => {
    event.preventDefault()
    setAction(typed.trim())
  }
  return (
    <>
      <h2>Audit log</h2>
      <form className="inline-form" aria-label="Filter the audit log" onSubmit={filter}>
        <Field
          label="Action"
          name="action"
          value={typed}
          onChange={setTyped}
          hint="Exact (plan.updated) or a prefix ending in .* (auth.*)."
        />
        <FilterSelect label="Actor type" value={actorType} onChange={setActorType} options={actorTypes} />
        <Button>Filter</Button>
      </form>
      {entries.error && <Notice kind="error">{entries.error}</Notice>}
      {entries.data?.data.length === 0 && <p className="muted">No entries match.</p>}
      {entries.data && entries.data.data.length > 0 && <AuditTable entries={entries.data.data} showAccount />}
      <Pager paged={entries} label="audit entries" />
    </>
  )
}
