// The SDK against a real plangate over real HTTP: the server is started here on a free port, and
// a small proxy in front of it loses, refuses or rate-limits chosen requests.
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  adminCredentials,
  buildTestApp,
  loginAdmin,
  type TestApp,
  uniqueCode,
} from '../../../test/helpers/app.ts'
import {
  createPlangate,
  type Plangate,
  PlangateError,
  paginate,
  unwrap,
  verifyWebhook,
  WebhookSignatureError,
} from './index.ts'

type Fault = 'lose' | 'hold' | '503' | '429'

/**
 * Forwards to `target`; a queued fault is spent on the next request: `lose` forwards it and then
 * drops the connection instead of answering (the server acted, the client saw a network error),
 * `hold` forwards it and never answers (the server acted, the client times out; the server's status
 * goes to `held`), `503` answers 503 without forwarding, `429` answers 429 with `Retry-After: 1`.
 */
async function startProxy(target: number) {
  const faults: Fault[] = []
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; at: number }[] = []
  const held: number[] = []
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, at: Date.now() })
    const fault = faults.shift()
    if (fault === '503' || fault === '429') {
      req.resume()
      const headers: Record<string, string> = { 'content-type': 'application/problem+json' }
      if (fault === '429') headers['retry-after'] = '1'
      res.writeHead(Number(fault), headers)
      res.end(
        JSON.stringify({
          type: 'about:blank',
          title: 'Try later',
          status: Number(fault),
          detail: 'proxy',
          code: fault === '429' ? 'rate_limited' : 'service_unavailable',
        }),
      )
      return
    }
    const upstream = request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (fault === 'lose') {
          answer.resume()
          answer.on('end', () => res.socket?.destroy())
          return
        }
        if (fault === 'hold') {
          held.push(answer.statusCode ?? 0)
          answer.resume()
          return
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    req.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    seen,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A receiver for webhook deliveries: keeps the raw body and headers of each. */
async function startReceiver() {
  const received: { body: string; headers: IncomingHttpHeaders }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('@plangate/sdk against a running plangate', () => {
  let t: TestApp
  let proxy: Awaited<ReturnType<typeof startProxy>>
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let baseUrl: string
  let admin: Plangate
  let pg: Plangate
  let apiKey: string
  let accountId: string
  let endpointSecret: string
  const plan = uniqueCode('sdk')
  const externalId = uniqueCode('salon')

  beforeAll(async () => {
    t = await buildTestApp({ WEBHOOK_RETRY_DELAY_SECONDS: '0' })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    proxy = await startProxy((t.app.server.address() as AddressInfo).port)
    receiver = await startReceiver()

    // A site admin (a person) makes the site key and the webhook endpoint; the rest is the key's.
    admin = createPlangate({ baseUrl, token: await loginAdmin(t.app) })
    const key = unwrap(
      await admin.POST('/v1/admin/api-keys', {
        body: {
          name: 'sdk tests',
          scopes: [
            'accounts:read',
            'accounts:write',
            'subscriptions:write',
            'entitlements:read',
            'usage:write',
            'resources:write',
            'plans:write',
          ],
        },
      }),
    )
    expect(key.key).toMatch(/^pgk_/)
    apiKey = key.key
    const endpoint = unwrap(
      await admin.POST('/v1/webhook-endpoints', { body: { url: receiver.url, events: ['subscription.*'] } }),
    )
    endpointSecret = endpoint.secret
    // Short waits: the proxy's faults are the only reason to retry here.
    pg = createPlangate({ baseUrl: proxy.url, apiKey: key.key, baseRetryDelayMs: 20 })

    unwrap(
      await pg.POST('/v1/plans', {
        body: { code: plan, name: 'SDK', price_cents: 0, limits: { staff: 10, sms: 100 } },
      }),
    )
    // The integrating backend makes its tenant with the site key, inviting the tenant's owner.
    const tenant = unwrap(
      await pg.POST('/v1/accounts', {
        body: { name: 'Chic-Chic', external_id: externalId, owner_email: 'ann@example.com' },
      }),
    )
    expect(tenant).toMatchObject({ external_id: externalId, role: null })
    accountId = tenant.id
    unwrap(
      await pg.POST('/v1/accounts/{accountId}/subscription', {
        params: { path: { accountId } },
        body: { plan },
      }),
    )
  })
  afterAll(async () => {
    await proxy?.close()
    await receiver?.close()
    await t?.close()
  })

  it('finds the tenant by external_id, checks and records usage with a site key', async () => {
    const found = unwrap(await pg.GET('/v1/accounts', { params: { query: { external_id: externalId } } }))
    expect(found.data.map((account) => account.id)).toEqual([accountId])
    const check = unwrap(
      await pg.POST('/v1/accounts/{accountId}/check', {
        params: { path: { accountId } },
        body: { feature: 'staff' },
      }),
    )
    expect(check).toMatchObject({ allowed: true })
    const usage = unwrap(
      await pg.POST('/v1/accounts/{accountId}/usage', {
        params: { path: { accountId } },
        body: { feature: 'sms', quantity: 3 },
      }),
    )
    expect(usage).toMatchObject({ feature: 'sms' })
    const sent = proxy.seen.at(-1)
    expect(sent?.headers.authorization).toMatch(/^Bearer pgk_/)
    expect(sent?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('retries a POST whose answer was lost with the same Idempotency-Key, and the server acts once', async () => {
    const name = uniqueCode('Ann')
    const before = proxy.seen.length
    proxy.faults.push('lose')
    const staff = unwrap(
      await pg.POST('/v1/accounts/{accountId}/staff', { params: { path: { accountId } }, body: { name } }),
    )
    expect(staff.name).toBe(name)
    const attempts = proxy.seen.slice(before)
    expect(attempts).toHaveLength(2)
    const keys = attempts.map((attempt) => attempt.headers['idempotency-key'])
    expect(keys[0]).toBeTruthy()
    expect(keys[1]).toBe(keys[0])
    const all = []
    for await (const row of paginate(pg, '/v1/accounts/{accountId}/staff', {
      params: { path: { accountId } },
    }))
      all.push(row)
    expect(all.filter((row) => row.name === name)).toHaveLength(1)
  })

  it('retries a 503 and keeps a key the caller gave', async () => {
    const before = proxy.seen.length
    proxy.faults.push('503', '503')
    const name = uniqueCode('Bea')
    const staff = unwrap(
      await pg.POST('/v1/accounts/{accountId}/staff', {
        params: { path: { accountId }, header: { 'idempotency-key': 'caller-key-1' } },
        body: { name },
      }),
    )
    expect(staff.name).toBe(name)
    expect(proxy.seen.slice(before).map((attempt) => attempt.headers['idempotency-key'])).toEqual([
      'caller-key-1',
      'caller-key-1',
      'caller-key-1',
    ])
  })

  it('waits Retry-After after a 429', async () => {
    const before = proxy.seen.length
    proxy.faults.push('429')
    unwrap(await pg.GET('/v1/accounts/{accountId}', { params: { path: { accountId } } }))
    const [first, second] = proxy.seen.slice(before)
    expect(second).toBeDefined()
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950)
  })

  it('gives up after `retries` and returns the last answer', async () => {
    const client = createPlangate({ baseUrl: proxy.url, retries: 1, baseRetryDelayMs: 10 })
    proxy.faults.push('503', '503', '503')
    const result = await client.GET('/v1/plans')
    expect(result.response.status).toBe(503)
    expect(proxy.faults).toHaveLength(1)
    proxy.faults.length = 0
  })

  it('never retries a PATCH without an Idempotency-Key', async () => {
    const before = proxy.seen.length
    proxy.faults.push('503')
    const result = await pg.PATCH('/v1/accounts/{accountId}', {
      params: { path: { accountId } },
      body: { name: 'Chic' },
    })
    expect(result.response.status).toBe(503)
    expect(proxy.seen.length - before).toBe(1)
  })

  it('sends a cancel held past the timeout once: the server acted, the caller gets the timeout', async () => {
    const other = unwrap(await pg.POST('/v1/accounts', { body: { name: 'Held' } }))
    const path = { path: { accountId: other.id } }
    unwrap(await pg.POST('/v1/accounts/{accountId}/subscription', { params: path, body: { plan } }))
    const impatient = createPlangate({ baseUrl: proxy.url, apiKey, timeoutMs: 300, baseRetryDelayMs: 20 })
    const before = proxy.seen.length
    const heldBefore = proxy.held.length
    proxy.faults.push('hold')
    await expect(
      impatient.POST('/v1/accounts/{accountId}/subscription/cancel', {
        params: path,
        body: { at_period_end: true },
      }),
    ).rejects.toMatchObject({ name: 'TimeoutError' })
    const attempts = proxy.seen.slice(before)
    expect(attempts.map((attempt) => attempt.url)).toEqual([`/v1/accounts/${other.id}/subscription/cancel`])
    expect(attempts[0]?.headers['idempotency-key']).toBeUndefined()
    await vi.waitFor(() => expect(proxy.held.slice(heldBefore)).toEqual([200]), { timeout: 10_000 })
    const subscription = unwrap(await pg.GET('/v1/accounts/{accountId}/subscription', { params: path }))
    expect(subscription.cancel_at_period_end).toBe(true)
    expect(proxy.seen.length - before).toBe(2)
  })

  it('sends a refresh once: a lost answer is a network error, not a second rotation', async () => {
    const tokens = unwrap(
      await createPlangate({ baseUrl }).POST('/v1/auth/token', {
        body: { username: adminCredentials.email, password: adminCredentials.password },
      }),
    )
    const anonymous = createPlangate({ baseUrl: proxy.url, baseRetryDelayMs: 20 })
    const before = proxy.seen.length
    proxy.faults.push('lose')
    await expect(
      anonymous.POST('/v1/auth/refresh', { body: { refresh_token: tokens.refresh_token } }),
    ).rejects.toThrow()
    const attempts = proxy.seen.slice(before)
    expect(attempts.map((attempt) => attempt.url)).toEqual(['/v1/auth/refresh'])
    expect(attempts[0]?.headers['idempotency-key']).toBeUndefined()
  })

  it('throws typed problems', async () => {
    const missing = '0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b'
    const error = await pg
      .GET('/v1/accounts/{accountId}', { params: { path: { accountId: missing } } })
      .then(unwrap)
      .catch((thrown: unknown) => thrown)
    expect(error).toBeInstanceOf(PlangateError)
    expect(error).toMatchObject({
      status: 404,
      code: 'not_found',
      problem: { status: 404, code: 'not_found' },
    })

    const anonymous = createPlangate({ baseUrl })
    const unauthorized = await anonymous
      .GET('/v1/accounts')
      .then(unwrap)
      .catch((thrown: unknown) => thrown)
    expect(unauthorized).toMatchObject({ status: 401, code: 'unauthorized' })

    const invalid = await pg
      .POST('/v1/accounts/{accountId}/usage', {
        params: { path: { accountId } },
        body: { feature: 'sms', quantity: 0 },
      })
      .then(unwrap)
      .then(() => undefined)
      .catch((thrown: unknown) => thrown as PlangateError)
    expect(invalid).toMatchObject({ status: 400, code: 'validation_failed' })
    expect(invalid?.problem.errors?.length).toBeGreaterThan(0)
  })

  it('iterates a list across pages', async () => {
    for (let i = 0; i < 4; i++) {
      unwrap(
        await pg.POST('/v1/accounts/{accountId}/staff', {
          params: { path: { accountId } },
          body: { name: `Page ${i}` },
        }),
      )
    }
    const before = proxy.seen.length
    const rows = []
    for await (const row of paginate(pg, '/v1/accounts/{accountId}/staff', {
      params: { path: { accountId }, query: { limit: 2 } },
    })) {
      rows.push(row)
    }
    const all = unwrap(
      await pg.GET('/v1/accounts/{accountId}/staff', {
        params: { path: { accountId }, query: { limit: 100 } },
      }),
    )
    expect(rows.map((row) => row.id)).toEqual(all.data.map((row) => row.id))
    expect(rows.length).toBeGreaterThanOrEqual(6)
    expect(new Set(rows.map((row) => row.id)).size).toBe(rows.length)
    const pages = proxy.seen.slice(before, -1)
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(rows.length / 2))
    expect(pages.every((page) => page.url.includes('limit=2'))).toBe(true)
    expect(pages.slice(1).every((page) => page.url.includes('cursor='))).toBe(true)
  })

  it('times out an attempt', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const client = createPlangate({
      baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      timeoutMs: 100,
      retries: 1,
      baseRetryDelayMs: 10,
    })
    const started = Date.now()
    await expect(client.GET('/v1/plans')).rejects.toThrow()
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    silent.closeAllConnections()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
  })

  it('verifies a real delivery and refuses a tampered body or a stale one', async () => {
    await t.deps.jobs.drain(t.deps)
    // This account's: another test subscribes an account of its own.
    const delivery = receiver.received.find(
      (received) => received.body.includes('subscription.created') && received.body.includes(accountId),
    )
    if (!delivery) throw new Error(`no subscription.created delivery among ${receiver.received.length}`)
    const event = verifyWebhook(delivery.body, delivery.headers, endpointSecret)
    expect(event).toMatchObject({ type: 'subscription.created', account_id: accountId })
    expect(
      verifyWebhook(
        new TextEncoder().encode(delivery.body),
        new Headers(delivery.headers as Record<string, string>),
        endpointSecret,
      ).id,
    ).toBe(event.id)

    const refusal = (run: () => unknown) => {
      try {
        run()
      } catch (error) {
        return error
      }
      throw new Error('accepted')
    }
    expect(
      refusal(() =>
        verifyWebhook(
          delivery.body.replace(accountId, '0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b'),
          delivery.headers,
          endpointSecret,
        ),
      ),
    ).toMatchObject({
      reason: 'no_matching_signature',
    })
    expect(refusal(() => verifyWebhook(delivery.body, delivery.headers, 'whsec_wrong'))).toBeInstanceOf(
      WebhookSignatureError,
    )
    const later = new Date(Date.now() + 10 * 60_000)
    expect(
      refusal(() => verifyWebhook(delivery.body, delivery.headers, endpointSecret, { now: later })),
    ).toMatchObject({
      reason: 'timestamp_out_of_tolerance',
    })
    expect(
      verifyWebhook(delivery.body, delivery.headers, endpointSecret, { now: later, toleranceSeconds: 3600 })
        .id,
    ).toBe(event.id)
    expect(refusal(() => verifyWebhook(delivery.body, {}, endpointSecret))).toMatchObject({
      reason: 'missing_header',
    })
  })
})
