// Webhook endpoints: the list, a new one made with its event types (its signing secret shown once),
// deleting one, and one endpoint's deliveries, a failed one sent once more.
import { type components, unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { Pager, StatusBadge, useAction, usePaged } from './common.tsx'

type Endpoint = components['schemas']['WebhookEndpoint']
type Delivery = components['schemas']['WebhookDelivery']
const eventTypes = [
  '*',
  'subscription.*',
  'subscription.created',
  'subscription.updated',
  'subscription.canceled',
  'subscription.resumed',
  'subscription.expired',
  'subscription.renewed',
  'subscription.trial_will_end',
  'invoice.*',
  'invoice.created',
  'invoice.paid',
  'invoice.payment_failed',
  'entitlements.updated',
] as const

type EventType = (typeof eventTypes)[number]

export function AdminWebhooks() {
  const endpoints = usePaged(
    async (cursor) => unwrap(await api.GET('/v1/webhook-endpoints', { params: { query: { cursor } } })),
    [],
  )
  const [url, setUrl] = useState('')
  const [description, setDescription] = useState('')
  const [events, setEvents] = useState<Set<EventType>>(new Set(['*']))
  const [secret, setSecret] = useState<string | null>(null)
  const [shown, setShown] = useState<Endpoint | null>(null)
  const action = useAction()

  const toggle = (type: EventType) =>
    setEvents((current) => {
      const next = new Set(current)
      if (next.has(type)) next.delete(type)
      else next.add(type)
      return next
    })
  const create = (event: FormEvent) => {
    event.preventDefault()
    void action.run(async () => {
      setSecret(null)
      const made = unwrap(
        await api.POST('/v1/webhook-endpoints', { body: { url, description, events: [...events] } }),
      )
      setSecret(made.secret)
      setUrl('')
      setDescription('')
      await endpoints.reload()
      return `Endpoint ${made.url} registered.`
    })
  }
  const remove = (endpoint: Endpoint) =>
    action.run(async () => {
      unwrap(await api.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id: endpoint.id } } }))
      if (shown?.id === endpoint.id) setShown(null)
      await endpoints.reload()
      return `Endpoint ${endpoint.url} deleted: nothing more is sent to it.`
    })

  return (
    <>
      <h2>Webhook endpoints</h2>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {secret && (
        <Notice kind="success">
          <p>Copy the signing secret now: it is not shown again.</p>
          <code className="secret">{secret}</code>
        </Notice>
      )}
      {endpoints.error && <Notice kind="error">{endpoints.error}</Notice>}
      {endpoints.data?.data.length === 0 && <p className="muted">No endpoints yet.</p>}
      {endpoints.data && endpoints.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {endpoints.data.data.map((endpoint) => (
              <tr key={endpoint.id}>
                <td className="wrap">
                  {endpoint.url} {!endpoint.is_active && <StatusBadge status="deleted" />}
                </td>
                <td>{endpoint.events.join(', ')}</td>
                <td>{endpoint.description || '—'}</td>
                <td>{dateTime(endpoint.created_at)}</td>
                <td>
                  <div className="actions">
                    <Button type="button" kind="secondary" onClick={() => setShown(endpoint)}>
                      Deliveries <span className="visually-hidden">to {endpoint.url}</span>
                    </Button>
                    {endpoint.is_active && (
                      <Button
                        type="button"
                        kind="danger"
                        busy={action.busy}
                        onClick={() => void remove(endpoint)}
                      >
                        Delete <span className="visually-hidden">{endpoint.url}</span>
                      </Button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={endpoints} label="endpoints" />
      {shown && <Deliveries endpoint={shown} onClose={() => setShown(null)} />}

      <form onSubmit={create} className="card" aria-label="Register an endpoint">
        <h3>Register an endpoint</h3>
        <Field
          label="URL"
          name="url"
          value={url}
          onChange={setUrl}
          required
          hint="HTTPS in production; internal addresses and localhost are refused."
        />
        <Field label="Description" name="description" value={description} onChange={setDescription} />
        <fieldset>
          <legend>Event types</legend>
          {eventTypes.map((type) => (
            <label key={type} className="check">
              <input type="checkbox" checked={events.has(type)} onChange={() => toggle(type)} />{' '}
              <code>{type}</code>
              {type === '*' && <span className="muted">every event</span>}
            </label>
          ))}
        </fieldset>
        <Button busy={action.busy} disabled={events.size === 0}>
          Register the endpoint
        </Button>
      </form>
    </>
  )
}

function Deliveries({ endpoint, onClose }: { endpoint: Endpoint; onClose: () => void }) {
  const deliveries = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/webhook-endpoints/{id}/deliveries', {
          params: { path: { id: endpoint.id }, query: { cursor } },
        }),
      ),
    [endpoint.id],
  )
  const action = useAction()
  const retry = (delivery: Delivery) =>
    action.run(async () => {
      unwrap(
        await api.POST('/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/retry', {
          params: { path: { id: endpoint.id, deliveryId: delivery.id } },
        }),
      )
      await deliveries.reload()
      return `The ${delivery.event_type} delivery is queued to be sent once more.`
    })
  return (
    <section className="card" aria-labelledby="deliveries">
      <div className="row">
        <h3 id="deliveries">Deliveries to {endpoint.url}</h3>
        <Button type="button" kind="secondary" onClick={onClose}>
          Close <span className="visually-hidden">the deliveries</span>
        </Button>
      </div>
      {deliveries.error && <Notice kind="error">{deliveries.error}</Notice>}
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {deliveries.data?.data.length === 0 && <p className="muted">Nothing sent yet.</p>}
      {deliveries.data && deliveries.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {deliveries.data.data.map((delivery) => (
              <tr key={delivery.id}>
                <td>
                  <code>{delivery.event_type}</code>
                </td>
                <td>
                  <StatusBadge status={delivery.status} />
                </td>
                <td>{delivery.attempts}</td>
                <td className="wrap">
                  {delivery.last_status_code !== null && `HTTP ${delivery.last_status_code}`}
                  {delivery.last_duration_ms !== null && ` in ${delivery.last_duration_ms} ms`}
                  {delivery.last_error && ` ${delivery.last_error}`}
                  {delivery.last_status_code === null && !delivery.last_error && '—'}
                </td>
                <td>{dateTime(delivery.created_at)}</td>
                <td>
                  {delivery.status === 'failed' && (
                    <Button
                      type="button"
                      kind="secondary"
                      busy={action.busy}
                      onClick={() => void retry(delivery)}
                    >
                      Retry{' '}
                      <span className="visually-hidden">
                        the {delivery.event_type} delivery of {dateTime(delivery.created_at)}
                      </span>
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={deliveries} label="deliveries" />
    </section>
  )
}
