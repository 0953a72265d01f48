// Outgoing mail as written to the outbox folder (when SMTP is off), newest first; one message read
// in full. With SMTP nothing is kept, and the page says so.
import { type components, PlangateError, unwrap } from '@plangate/sdk'
import { useState } from 'react'
import { dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Notice } from '../ui/kit.tsx'
import { Pager, useAction, usePaged } from './common.tsx'

type Message = components['schemas']['OutboxMessage']

const isSmtp = (error: unknown) => error instanceof PlangateError && error.status === 404

export function AdminMail() {
  const [smtp, setSmtp] = useState(false)
  const [open, setOpen] = useState<Message | null>(null)
  const action = useAction()
  const mail = usePaged(async (cursor) => {
    try {
      return unwrap(await api.GET('/v1/admin/mail', { params: { query: { cursor } } }))
    } catch (caught) {
      if (!isSmtp(caught)) throw caught
      setSmtp(true)
      return { data: [], next_cursor: null }
    }
  }, [])
  const read = (id: string) =>
    action.run(async () => {
      setOpen(unwrap(await api.GET('/v1/admin/mail/{id}', { params: { path: { id } } })))
      return null
    })
  return (
    <>
      <h2>Mail</h2>
      {smtp && <Notice kind="info">Mail is sent over SMTP: nothing is kept here to read.</Notice>}
      {!smtp && (
        <p className="muted">
          Messages written to the outbox folder. They hold live sign-in links and codes: handle with care.
        </p>
      )}
      {mail.error && <Notice kind="error">{mail.error}</Notice>}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {!smtp && mail.data?.data.length === 0 && <p className="muted">No mail yet.</p>}
      {mail.data && mail.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Sent</th>
              <th scope="col">To</th>
              <th scope="col">Subject</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {mail.data.data.map((message) => (
              <tr key={message.id}>
                <td>{dateTime(message.created_at)}</td>
                <td className="wrap">{message.to}</td>
                <td>{message.subject}</td>
                <td>
                  <Button
                    type="button"
                    kind="secondary"
                    busy={action.busy}
                    onClick={() => void read(message.id)}
                  >
                    Read{' '}
                    <span className="visually-hidden">
                      “{message.subject}” to {message.to}
                    </span>
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={mail} label="mail" />
      {open && (
        <section className="card" aria-labelledby="mail-open">
          <h3 id="mail-open">{open.subject}</h3>
          <dl className="facts">
            <dt>From</dt>
            <dd>{open.from}</dd>
            <dt>To</dt>
            <dd>{open.to}</dd>
            <dt>Sent</dt>
            <dd>{dateTime(open.created_at)}</dd>
          </dl>
          <pre className="mail-body">{open.text}</pre>
          <Button type="button" kind="secondary" onClick={() => setOpen(null)}>
            Close the message
          </Button>
        </section>
      )}
    </>
  )
}
