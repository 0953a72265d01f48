import { unwrap } from '@plangate/sdk'
import { type FormEvent, type ReactNode, useState } from 'react'
import { dateTime, localToday } from '../lib/format.ts'
import { api, messageOf } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Field, Notice, useFocusFallback } from '../ui/kit.tsx'
import { Meter } from '../ui/Meter.tsx'
import { useAccount } from './AccountLayout.tsx'
import { refusal } from './limits.tsx'

/** The UTC offset of a time zone at a local wall-clock time, as "+01:00". */
function offsetAt(timeZone: string, day: string, time: string): string {
  const guess = new Date(`${day}T${time}:00Z`)
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(
    guess,
  )
  const name = parts.find((part) => part.type === 'timeZoneName')?.value ?? 'GMT'
  const match = name.match(/GMT([+-]\d{2}:\d{2})/)
  return match?.[1] ?? '+00:00'
}

export function BookingsPage() {
  const { account } = useAccount()
  const heading = useFocusFallback<HTMLHeadingElement>()
  const [day, setDay] = useState(() => localToday(account.timezone))
  const path = { path: { accountId: account.id } }
  const bookings = useLoad(
    async () =>
      unwrap(
        await api.GET('/v1/accounts/{accountId}/bookings', {
          params: { ...path, query: { date: day, status: 'confirmed', limit: 100 } },
        }),
      ).data,
    [account.id, day],
  )
  const check = useLoad(
    async () =>
      unwrap(
        await api.POST('/v1/accounts/{accountId}/check', {
          params: path,
          body: { feature: 'bookings_per_day', date: day },
        }),
      ),
    [account.id, day],
  )
  const [customer, setCustomer] = useState('')
  const [time, setTime] = useState('10:00')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<ReactNode>(null)

  const reload = () => Promise.all([bookings.reload(), check.reload()])
  const add = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const startsAt = `${day}T${time}:00${offsetAt(account.timezone, day, time)}`
      unwrap(
        await api.POST('/v1/accounts/{accountId}/bookings', {
          params: path,
          body: { customer_name: customer, starts_at: startsAt },
        }),
      )
      setCustomer('')
      await reload()
    } catch (caught) {
      setError(refusal(caught))
    } finally {
      setBusy(false)
    }
  }
  const cancel = async (bookingId: string) => {
    setError(null)
    try {
      unwrap(
        await api.POST('/v1/accounts/{accountId}/bookings/{bookingId}/cancel', {
          params: { path: { accountId: account.id, bookingId } },
        }),
      )
      await reload()
      // The row and its button are gone: the list's heading keeps the keyboard's place.
      heading.after()
    } catch (caught) {
      setError(messageOf(caught))
    }
  }
  return (
    <>
      <h2 ref={heading.ref} tabIndex={-1}>
        Bookings
      </h2>
      <div className="field narrow">
        <label htmlFor="day">Day</label>
        <input
          id="day"
          type="date"
          value={day}
          onChange={(event) => event.target.value && setDay(event.target.value)}
        />
      </div>
      {check.data && check.data.used !== null && (
        <Meter label={`Bookings on ${day}`} used={check.data.used} limit={check.data.limit} unit="bookings" />
      )}
      {bookings.error && <Notice kind="error">{bookings.error}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {bookings.data?.length === 0 && <p className="muted">No bookings on this day.</p>}
      {bookings.data && bookings.data.length > 0 && (
        <ul className="list">
          {bookings.data.map((booking) => (
            <li key={booking.id} className="row">
              <span>
                {dateTime(booking.starts_at, account.timezone)} · {booking.customer_name}
              </span>
              <Button type="button" kind="secondary" onClick={() => void cancel(booking.id)}>
                Cancel <span className="visually-hidden">the booking of {booking.customer_name}</span>
              </Button>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} className="card inline-form" aria-label="Add a booking">
        <Field label="Customer" name="customer" value={customer} onChange={setCustomer} required />
        <div className="field">
          <label htmlFor="time">Time</label>
          <input
            id="time"
            type="time"
            value={time}
            onChange={(event) => setTime(event.target.value)}
            required
          />
        </div>
        <Button busy={busy}>Add booking</Button>
      </form>
    </>
  )
}
