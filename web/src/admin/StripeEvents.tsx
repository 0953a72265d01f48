// The Stripe webhook events as received, latest first: applied or not, attempts and the last error.
import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { FilterSelect, Pager, StatusBadge, usePaged } from './common.tsx'

export function AdminStripeEvents() {
  const [typed, setTyped] = useState('')
  const [type, setType] = useState('')
  const [processed, setProcessed] = useState('')
  const events = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/admin/webhook-events', {
          params: {
            query: {
              type: type || undefined,
              processed: processed === 'not applied' ? 'false' : processed === 'applied' ? 'true' : undefined,
              cursor,
            },
          },
        }),
      ),
    [type, processed],
  )
  const filter = (event: FormEvent) => {
    event.preventDefault()
    setType(typed.trim())
  }
  return (
    <>
      <h2>Stripe events</h2>
      <form className="inline-form" aria-label="Filter Stripe events" onSubmit={filter}>
        <Field
          label="Event type"
          name="type"
          value={typed}
          onChange={setTyped}
          hint="Such as invoice.paid."
        />
        <FilterSelect
          label="Applied"
          value={processed}
          onChange={setProcessed}
          options={['applied', 'not applied']}
        />
        <Button>Filter</Button>
      </form>
      {events.error && <Notice kind="error">{events.error}</Notice>}
      {events.data?.data.length === 0 && <p className="muted">No Stripe events match.</p>}
      {events.data && events.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Type</th>
              <th scope="col">Received</th>
              <th scope="col">Applied</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {events.data.data.map((event) => (
              <tr key={event.id}>
                <td className="wrap">
                  <code>{event.id}</code>
                </td>
                <td>
                  <code>{event.type}</code>
                </td>
                <td>{dateTime(event.received_at)}</td>
                <td>
                  {event.processed_at ? dateTime(event.processed_at) : <StatusBadge status="pending" />}
                </td>
                <td>{event.attempts}</td>
                <td className="wrap">{event.last_error ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={events} label="Stripe events" />
    </>
  )
}
