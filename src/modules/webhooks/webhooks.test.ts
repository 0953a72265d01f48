// Outgoing webhooks: endpoints registered by site admins receive signed events over real HTTP,
// only for committed changes, once per endpoint, retried until they answer 2xx or the retries run out.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { eq } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  registerAndLogin,
  type TestApp,
} from '../../../test/helpers/app.ts'
import type { components } from '../../../test/helpers/client.ts'
import { newId } from '../../core/ids.ts'
import { auditLog } from '../audit/tables.ts'
import type { EventType } from './catalogue.ts'
import { emitEvent, type OutgoingEvent } from './events.ts'
import { deliverWebhook } from './jobs.ts'
import { verifySignature } from './signature.ts'
import { events, webhookDeliveries } from './tables.ts'

interface ReceivedRequest {
  method: string
  headers: IncomingHttpHeaders
  body: string
}

/** A local HTTP receiver: records every request by path and answers as told (2xx by default). */
async function startReceiver() {
  const received = new Map<string, ReceivedRequest[]>()
  const behaviours = new Map<string, { failures: number; status: number; location?: string }>()
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const path = req.url ?? '/'
      const list = received.get(path) ?? []
      list.push({
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      })
      received.set(path, list)
      const behaviour = behaviours.get(path)
      if (behaviour && behaviour.failures > 0) {
        behaviour.failures--
        res.writeHead(behaviour.status, behaviour.location ? { location: behaviour.location } : {})
        res.end(behaviour.status >= 300 && behaviour.status < 400 ? '' : 'the receiver is down')
        return
      }
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    /** A fresh path on the receiver, so each endpoint's requests are told apart. */
    newPath: () => `/hooks/${randomUUID()}`,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    requests: (path: string) => received.get(path) ?? [],
    /** The next `failures` requests to `path` are answered with `status` (forever with Infinity). */
    fail(path: string, failures: number, status = 500, location?: string) {
      behaviours.set(path, { failures, status, ...(location && { location }) })
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('outgoing webhooks', () => {
  let t: TestApp
  let admin: string
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  const created: string[] = []

  beforeAll(async () => {
    // Retries are due at once, so `drain` runs a delivery through all its attempts. The endpoint
    // breaker (tested in breaker.test.ts) stays out of the way: every retry here reaches the receiver.
    t = await buildTestApp({ WEBHOOK_RETRY_DELAY_SECONDS: '0', WEBHOOK_BREAKER_FAILURES: '100' })
    admin = await loginAdmin(t.app)
    receiver = await startReceiver()
  })
  afterEach(async () => {
    // Endpoints receive every matching event, so each test's endpoints are deleted after it.
    for (const id of created.splice(0)) await removeEndpoint(id)
  })
  afterAll(async () => {
    await receiver?.close()
    await t?.close()
  })

  async function createEndpoint(body: Record<string, unknown>, headers: Record<string, string> = {}) {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: { ...bearer(admin), ...headers },
      payload: body,
    })
    if (res.statusCode === 201) created.push(res.json().id)
    return res
  }

  /** An endpoint on a fresh receiver path. */
  async function endpointFor(events?: string[]) {
    const path = receiver.newPath()
    const res = await createEndpoint({ url: receiver.url(path), ...(events && { events }) })
    expect(res.statusCode, res.body).toBe(201)
    const endpoint = res.json() as components['schemas']['CreatedWebhookEndpoint']
    return { ...endpoint, path }
  }

  async function removeEndpoint(id: string) {
    return t.app.inject({ method: 'DELETE', url: `/v1/webhook-endpoints/${id}`, headers: bearer(admin) })
  }

  async function deliveries(endpointId: string) {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook-endpoints/${endpointId}/deliveries`,
      headers: bearer(admin),
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data as Record<string, unknown>[]
  }

  const event = (type: EventType, data: Record<string, unknown> = {}): OutgoingEvent => ({
    type,
    accountId: null,
    data,
  })
  const emit = (outgoing: OutgoingEvent) => t.deps.db.transaction((tx) => emitEvent(tx, t.deps, outgoing))
  const drain = () => t.deps.jobs.drain(t.deps)

  describe('endpoints', () => {
    it('shows the signing secret once, at creation, and never in the list', async () => {
      const res = await createEndpoint({
        url: 'https://hooks.example.test/plangate',
        description: 'CRM sync',
      })
      expect(res.statusCode, res.body).toBe(201)
      const endpoint = res.json()
      expect(endpoint).toEqual({
        id: expect.any(String),
        url: 'https://hooks.example.test/plangate',
        events: ['*'],
        description: 'CRM sync',
        is_active: true,
        created_at: expect.any(String),
        secret: expect.stringMatching(/^whsec_[0-9a-f]{64}$/),
      })

      const list = await t.app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: bearer(admin) })
      expect(list.statusCode).toBe(200)
      const listed = list.json().data.find((item: { id: string }) => item.id === endpoint.id)
      expect(listed).toEqual({ ...endpoint, secret: undefined })
      expect(list.body).not.toContain(endpoint.secret)
    })

    it('replays the creation for a retried Idempotency-Key instead of creating a second endpoint', async () => {
      const key = randomUUID()
      const body = { url: 'https://hooks.example.test/idempotent', events: ['invoice.*'] }
      const first = await createEndpoint(body, { 'idempotency-key': key })
      const second = await createEndpoint(body, { 'idempotency-key': key })
      expect(first.statusCode).toBe(201)
      expect(second.statusCode).toBe(201)
      expect(second.headers['idempotent-replayed']).toBe('true')
      expect(second.json().id).toBe(first.json().id)
      const list = await t.app.inject({
        method: 'GET',
        url: '/v1/webhook-endpoints?limit=100',
        headers: bearer(admin),
      })
      expect(list.json().data.filter((item: { url: string }) => item.url === body.url)).toHaveLength(1)
    })

    it('accepts only http(s) URLs up to 2000 characters and event types of the catalogue', async () => {
      const bad = [
        { url: 'ftp://hooks.example.test/x' },
        { url: 'javascript:alert(1)' },
        { url: 'not a url' },
        { url: `https://hooks.example.test/${'a'.repeat(2000)}` },
        { url: 'https://hooks.example.test/x', events: ['subscription.deleted'] },
        { url: 'https://hooks.example.test/x', events: ['billing.*'] },
        { url: 'https://hooks.example.test/x', events: [] },
      ]
      for (const body of bad) {
        const res = await createEndpoint(body)
        expect(res.statusCode, JSON.stringify(body)).toBe(400)
        expect(res.json().code).toBe('validation_failed')
      }
      const good = await createEndpoint({
        url: 'http://hooks.example.test/x',
        events: ['subscription.*', 'invoice.paid', 'entitlements.updated', 'invoice.paid'],
      })
      expect(good.statusCode, good.body).toBe(201)
      expect(good.json().events).toEqual(['subscription.*', 'invoice.paid', 'entitlements.updated'])
    })

    it('pages through endpoints newest first without repeating one', async () => {
      const ids: string[] = []
      for (let i = 0; i < 3; i++)
        ids.push((await createEndpoint({ url: `https://hooks.example.test/p${i}` })).json().id)
      const seen: string[] = []
      let cursor: string | null = null
      do {
        const query: string = cursor ? `limit=2&cursor=${cursor}` : 'limit=2'
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/webhook-endpoints?${query}`,
          headers: bearer(admin),
        })
        expect(res.statusCode).toBe(200)
        const body = res.json()
        expect(body.data.length).toBeLessThanOrEqual(2)
        seen.push(...body.data.map((item: { id: string }) => item.id))
        cursor = body.next_cursor
      } while (cursor)
      expect(new Set(seen).size).toBe(seen.length)
      expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse())
    })

    it('deletes an endpoint softly: gone from the list, its delivery log still readable', async () => {
      const endpoint = await endpointFor()
      expect((await removeEndpoint(endpoint.id)).statusCode).toBe(204)
      expect((await removeEndpoint(endpoint.id)).statusCode).toBe(204)

      const active = await t.app.inject({
        method: 'GET',
        url: '/v1/webhook-endpoints?limit=100',
        headers: bearer(admin),
      })
      expect(active.json().data.map((item: { id: string }) => item.id)).not.toContain(endpoint.id)
      const all = await t.app.inject({
        method: 'GET',
        url: '/v1/webhook-endpoints?limit=100&include_inactive=true',
        headers: bearer(admin),
      })
      expect(all.json().data).toContainEqual(expect.objectContaining({ id: endpoint.id, is_active: false }))
      expect(await deliveries(endpoint.id)).toEqual([])

      const audited = await t.deps.db.select().from(auditLog).where(eq(auditLog.subjectId, endpoint.id))
      expect(audited.map((row) => row.action).sort()).toEqual([
        'webhook_endpoint.created',
        'webhook_endpoint.deleted',
        'webhook_endpoint.deleted',
      ])

      const unknown = newId()
      expect((await removeEndpoint(unknown)).statusCode).toBe(404)
      const log = await t.app.inject({
        method: 'GET',
        url: `/v1/webhook-endpoints/${unknown}/deliveries`,
        headers: bearer(admin),
      })
      expect(log.statusCode).toBe(404)
    })

    it('refuses every webhook route without a token (401) and to non-admins (403)', async () => {
      const user = await registerAndLogin(t.app)
      const endpoint = await endpointFor()
      const routes = [
        {
          method: 'POST' as const,
          url: '/v1/webhook-endpoints',
          payload: { url: 'https://hooks.example.test/x' },
        },
        { method: 'GET' as const, url: '/v1/webhook-endpoints' },
        { method: 'DELETE' as const, url: `/v1/webhook-endpoints/${endpoint.id}` },
        { method: 'GET' as const, url: `/v1/webhook-endpoints/${endpoint.id}/deliveries` },
      ]
      for (const route of routes) {
        const anonymous = await t.app.inject(route)
        expect(anonymous.statusCode, `${route.method} ${route.url}`).toBe(401)
        expect(anonymous.json().code).toBe('unauthorized')
        const member = await t.app.inject({ ...route, headers: bearer(user.token) })
        expect(member.statusCode, `${route.method} ${route.url}`).toBe(403)
        expect(member.json().code).toBe('forbidden')
      }
      const list = await t.app.inject({ method: 'GET', url: '/v1/webhook-endpoints', headers: bearer(admin) })
      expect(list.json().data).toContainEqual(expect.objectContaining({ id: endpoint.id, is_active: true }))
    })
  })

  describe('delivery', () => {
    it('delivers nothing for an event emitted in a rolled-back transaction', async () => {
      const endpoint = await endpointFor()
      const type = 'subscription.created'
      let eventId = ''
      await expect(
        t.deps.db.transaction(async (tx) => {
          eventId = await emitEvent(tx, t.deps, event(type))
          throw new Error('the subscription change failed')
        }),
      ).rejects.toThrow('the subscription change failed')
      await drain()
      expect(receiver.requests(endpoint.path)).toEqual([])
      expect(await t.deps.db.select().from(events).where(eq(events.id, eventId))).toEqual([])
      expect(await deliveries(endpoint.id)).toEqual([])
    })

    it('delivers a committed event once, as signed JSON with the documented headers', async () => {
      const endpoint = await endpointFor()
      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token)
      const eventId = await t.deps.db.transaction((tx) =>
        emitEvent(tx, t.deps, {
          type: 'subscription.renewed',
          accountId: account.id,
          data: { plan: 'pro', period_end: '2030-01-01T00:00:00.000Z' },
        }),
      )
      await drain()
      await drain()

      const requests = receiver.requests(endpoint.path)
      expect(requests).toHaveLength(1)
      const [request] = requests
      if (!request) throw new Error('no request')
      expect(request.method).toBe('POST')
      expect(request.headers['content-type']).toBe('application/json')
      expect(request.headers['user-agent']).toBe('plangate-webhooks')
      expect(request.headers['plangate-event-id']).toBe(eventId)
      expect(JSON.parse(request.body)).toEqual({
        id: eventId,
        type: 'subscription.renewed',
        created_at: t.clock.now().toISOString(),
        account_id: account.id,
        data: { plan: 'pro', period_end: '2030-01-01T00:00:00.000Z' },
      })

      const signature = request.headers['plangate-signature']
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
      const header = String(signature)
      expect(verifySignature(header, request.body, endpoint.secret, 300, t.clock.now())).toBe(true)
      expect(
        verifySignature(header, request.body.replace('pro', 'max'), endpoint.secret, 300, t.clock.now()),
      ).toBe(false)
      expect(verifySignature(header, request.body, `${endpoint.secret}x`, 300, t.clock.now())).toBe(false)
      const later = new Date(t.clock.now().getTime() + 301_000)
      expect(verifySignature(header, request.body, endpoint.secret, 300, later)).toBe(false)
      expect(verifySignature(undefined, request.body, endpoint.secret, 300, t.clock.now())).toBe(false)

      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({
          event_id: eventId,
          event_type: 'subscription.renewed',
          status: 'delivered',
          attempts: 1,
          last_status_code: 204,
          last_error: null,
          delivered_at: expect.any(String),
        }),
      ])
    })

    it('sends each endpoint only the event types it subscribed to, wildcards included', async () => {
      const invoicePaid = await endpointFor(['invoice.paid'])
      const subscriptions = await endpointFor(['subscription.*'])
      const everything = await endpointFor(['*'])
      const entitlements = await endpointFor(['entitlements.updated', 'invoice.*'])
      const deleted = await endpointFor(['*'])
      await removeEndpoint(deleted.id)

      await emit(event('subscription.canceled'))
      await emit(event('invoice.paid'))
      await emit(event('entitlements.updated'))
      await drain()

      const typesAt = (path: string) =>
        receiver
          .requests(path)
          .map((request) => JSON.parse(request.body).type as string)
          .sort()
      expect(typesAt(invoicePaid.path)).toEqual(['invoice.paid'])
      expect(typesAt(subscriptions.path)).toEqual(['subscription.canceled'])
      expect(typesAt(everything.path)).toEqual([
        'entitlements.updated',
        'invoice.paid',
        'subscription.canceled',
      ])
      expect(typesAt(entitlements.path)).toEqual(['entitlements.updated', 'invoice.paid'])
      expect(typesAt(deleted.path)).toEqual([])
    })

    it('retries a failing receiver and records the delivery once it answers 2xx', async () => {
      const endpoint = await endpointFor()
      receiver.fail(endpoint.path, 2, 503)
      const eventId = await emit(event('invoice.payment_failed', { amount_cents: 1900 }))
      await drain()

      const requests = receiver.requests(endpoint.path)
      expect(requests).toHaveLength(3)
      expect(new Set(requests.map((request) => request.headers['plangate-event-id']))).toEqual(
        new Set([eventId]),
      )
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({
          event_id: eventId,
          status: 'delivered',
          attempts: 3,
          last_status_code: 204,
        }),
      ])
    })

    it('marks a delivery failed after the retry limit, with the last status (never the body) in the delivery log', async () => {
      const endpoint = await endpointFor()
      receiver.fail(endpoint.path, Number.POSITIVE_INFINITY, 500)
      const eventId = await emit(event('subscription.expired'))
      await drain()
      await drain()

      const attempts = (deliverWebhook.retryLimit ?? 0) + 1
      expect(receiver.requests(endpoint.path)).toHaveLength(attempts)
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({
          event_id: eventId,
          event_type: 'subscription.expired',
          status: 'failed',
          attempts,
          last_status_code: 500,
          last_error: 'HTTP 500 Internal Server Error',
          last_duration_ms: expect.any(Number),
          delivered_at: null,
        }),
      ])
      // What the receiver answered is not readable back through the log (issue 14, hardening 7).
      expect(JSON.stringify(await deliveries(endpoint.id))).not.toContain('the receiver is down')
      const failed = await t.app.inject({
        method: 'GET',
        url: `/v1/webhook-endpoints/${endpoint.id}/deliveries?status=failed`,
        headers: bearer(admin),
      })
      expect(failed.json().data).toHaveLength(1)
    })

    it("retries a failed delivery on an admin's request, once, audited, through the same sending path", async () => {
      const endpoint = await endpointFor()
      const attempts = (deliverWebhook.retryLimit ?? 0) + 1
      // Down for every automatic attempt and the first manual retry; back for the second.
      receiver.fail(endpoint.path, attempts + 1, 503)
      const eventId = await emit(event('invoice.payment_failed'))
      await drain()
      const [failed] = await deliveries(endpoint.id)
      expect(failed).toMatchObject({ status: 'failed', attempts })
      const deliveryId = String(failed?.id)
      const retry = (
        path = `/v1/webhook-endpoints/${endpoint.id}/deliveries/${deliveryId}/retry`,
        token = admin,
      ) => t.app.inject({ method: 'POST', url: path, headers: bearer(token) })

      const member = await registerAndLogin(t.app)
      expect((await retry(undefined, member.token)).statusCode).toBe(403)
      const other = await endpointFor()
      expect(
        (await retry(`/v1/webhook-endpoints/${other.id}/deliveries/${deliveryId}/retry`)).statusCode,
      ).toBe(404)

      const first = await retry()
      expect(first.statusCode, first.body).toBe(202)
      expect(first.json()).toMatchObject({ id: deliveryId, event_id: eventId, status: 'pending', attempts })
      // Already queued: a second retry is refused until this one has run.
      expect((await retry()).json()).toMatchObject({ status: 409, code: 'conflict' })
      await drain()
      expect(receiver.requests(endpoint.path)).toHaveLength(attempts + 1)
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({ status: 'failed', attempts: attempts + 1, last_status_code: 503 }),
      ])

      expect((await retry()).statusCode).toBe(202)
      await drain()
      await drain()
      const requests = receiver.requests(endpoint.path)
      expect(requests).toHaveLength(attempts + 2)
      const last = requests.at(-1)
      expect(last?.headers['plangate-event-id']).toBe(eventId)
      expect(
        verifySignature(
          String(last?.headers['plangate-signature']),
          last?.body ?? '',
          endpoint.secret,
          300,
          t.clock.now(),
        ),
      ).toBe(true)
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({
          status: 'delivered',
          attempts: attempts + 2,
          last_status_code: 204,
          last_error: null,
        }),
      ])
      expect((await retry()).json()).toMatchObject({ status: 409, code: 'conflict' })

      const entries = await t.deps.db.select().from(auditLog).where(eq(auditLog.subjectId, deliveryId))
      expect(entries.map((entry) => [entry.action, entry.actorType, entry.data])).toEqual([
        ['webhook_delivery.retried', 'user', { endpoint_id: endpoint.id, event_id: eventId, attempts }],
        [
          'webhook_delivery.retried',
          'user',
          { endpoint_id: endpoint.id, event_id: eventId, attempts: attempts + 1 },
        ],
      ])
    })

    it('refuses to retry a delivery to a deleted endpoint', async () => {
      const endpoint = await endpointFor()
      receiver.fail(endpoint.path, Number.POSITIVE_INFINITY, 500)
      await emit(event('subscription.canceled'))
      await drain()
      const [failed] = await deliveries(endpoint.id)
      expect(failed?.status).toBe('failed')
      expect((await removeEndpoint(endpoint.id)).statusCode).toBe(204)
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/webhook-endpoints/${endpoint.id}/deliveries/${failed?.id}/retry`,
        headers: bearer(admin),
      })
      expect(res.json()).toMatchObject({ status: 409, code: 'conflict' })
      await drain()
      expect(receiver.requests(endpoint.path)).toHaveLength((deliverWebhook.retryLimit ?? 0) + 1)
    })

    it('treats a redirect as a failure and never follows it', async () => {
      const endpoint = await endpointFor()
      const target = receiver.newPath()
      receiver.fail(endpoint.path, Number.POSITIVE_INFINITY, 302, receiver.url(target))
      await emit(event('subscription.updated'))
      await drain()

      expect(receiver.requests(target)).toEqual([])
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({
          status: 'failed',
          last_status_code: 302,
          last_error: 'HTTP 302 Found (redirect not followed)',
        }),
      ])
    })

    it('records an unreachable receiver as a failed attempt without a status code', async () => {
      const closed = await startReceiver()
      const path = closed.newPath()
      const url = closed.url(path)
      await closed.close()
      const res = await createEndpoint({ url })
      expect(res.statusCode).toBe(201)
      await emit(event('subscription.resumed'))
      await drain()
      expect(await deliveries(res.json().id)).toEqual([
        expect.objectContaining({
          status: 'failed',
          last_status_code: null,
          last_error: 'Connection refused',
        }),
      ])
    })

    it('stops delivering to an endpoint deleted before its delivery ran, without retrying', async () => {
      const endpoint = await endpointFor()
      await emit(event('subscription.trial_will_end'))
      await removeEndpoint(endpoint.id)
      await drain()
      expect(receiver.requests(endpoint.path)).toEqual([])
      expect(await deliveries(endpoint.id)).toEqual([
        expect.objectContaining({ status: 'failed', attempts: 0, last_error: 'The endpoint was deleted' }),
      ])
    })

    it('never delivers the same event twice to one endpoint', async () => {
      const endpoint = await endpointFor()
      const eventId = await emit(event('invoice.created'))
      await drain()
      const [delivery] = await deliveries(endpoint.id)
      const deliveryId = String(delivery?.id)

      // The same delivery queued again (a duplicate job) finds it settled and sends nothing.
      await t.deps.jobs.enqueue(
        t.deps.db,
        deliverWebhook,
        { delivery_id: deliveryId },
        { key: `again:${deliveryId}` },
      )
      await drain()
      expect(receiver.requests(endpoint.path)).toHaveLength(1)

      // A second delivery of the event to the endpoint is refused by the unique key.
      await expect(
        t.deps.db.insert(webhookDeliveries).values({ id: newId(), endpointId: endpoint.id, eventId }),
      ).rejects.toThrow()
      expect(await deliveries(endpoint.id)).toHaveLength(1)
    })
  })
})
