// A customer's webhook endpoint that hangs must not take the service with it (issue 14): deliveries
// wait on the network without holding a database connection, each times out within its own bound,
// the endpoint's circuit breaker opens after repeated failures (later deliveries are not attempted
// but rescheduled, and the log says so), and a probe after the cool-down closes it again.
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  login,
  loginAdmin,
  scrapeMetrics,
  subscribedAccount,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { emitEvent } from './events.ts'

/** A receiver that accepts connections and never answers, until `recover()`. */
async function startHangingReceiver() {
  const held = new Set<ServerResponse>()
  let hanging = true
  let received = 0
  const server = createServer((req, res) => {
    req.resume()
    received++
    if (hanging) {
      held.add(res)
      return
    }
    res.writeHead(204).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received: () => received,
    recover() {
      hanging = false
    },
    async close() {
      for (const res of held) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// Longer than the 2 s the API requests are allowed: a delivery that held the (PGlite) connection
// while it waits would make them fail.
const timeoutMs = 3_000
const cooldownMs = 5_000

describe('a hanging webhook endpoint', () => {
  let t: TestApp
  let admin: string
  let receiver: Awaited<ReturnType<typeof startHangingReceiver>>

  beforeAll(async () => {
    t = await buildTestApp({
      WEBHOOK_TIMEOUT_MS: String(timeoutMs),
      WEBHOOK_BREAKER_FAILURES: '2',
      WEBHOOK_BREAKER_COOLDOWN_MS: String(cooldownMs),
      // A retry is due 8 s after a failure: one drain runs one attempt per delivery.
      WEBHOOK_RETRY_DELAY_SECONDS: '8',
    })
    admin = await loginAdmin(t.app)
    receiver = await startHangingReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await t?.close()
  })

  const deliveriesOf = async (endpointId: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook-endpoints/${endpointId}/deliveries?limit=100`,
      headers: bearer(admin),
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data as {
      status: string
      attempts: number
      last_error: string | null
      last_duration_ms: number | null
    }[]
  }
  const breakerState = async (endpointId: string) => {
    const line = (await scrapeMetrics(t.app))
      .split('\n')
      .find((row) => row.startsWith(`plangate_webhook_breaker_state{endpoint_id="${endpointId}"}`))
    return line ? Number(line.split(' ').at(-1)) : undefined
  }

  it('keeps the API answering, times out, opens the breaker, and delivers once the endpoint recovers', async () => {
    const { owner, account } = await subscribedAccount(t.app)
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/webhook-endpoints',
      headers: bearer(admin),
      payload: { url: receiver.url, events: ['invoice.*'] },
    })
    expect(created.statusCode, created.body).toBe(201)
    const endpointId: string = created.json().id
    const emit = (n: number) =>
      t.deps.db.transaction((tx) =>
        emitEvent(tx, t.deps, { type: 'invoice.created', accountId: null, data: { n } }),
      )
    for (let n = 0; n < 3; n++) await emit(n)

    // Deliveries run while the API is used: every request answers promptly although the endpoint hangs.
    const draining = t.deps.jobs.drain(t.deps)
    const probes: { name: string; ms: number; status: number }[] = []
    const probe = async (name: string, request: () => Promise<{ statusCode: number }>) => {
      const started = performance.now()
      const res = await request()
      probes.push({ name, ms: performance.now() - started, status: res.statusCode })
    }
    const deadline = Date.now() + 10_000
    while (receiver.received() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(receiver.received()).toBeGreaterThan(0)
    await probe('plans', () => t.app.inject({ method: 'GET', url: '/v1/plans' }))
    await probe('entitlements', () =>
      t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}/entitlements`,
        headers: bearer(owner.token),
      }),
    )
    await probe('sign-in', async () => {
      await login(t.app, owner.email, owner.password)
      return { statusCode: 200 }
    })
    await probe('staff', () =>
      t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/staff`,
        headers: bearer(owner.token),
        payload: { name: 'Ann' },
      }),
    )
    await draining
    for (const { name, ms, status } of probes) {
      expect(status, name).toBeLessThan(300)
      expect(ms, name).toBeLessThan(2_000)
    }

    // Two attempts waited out their own timeout; then the breaker opened and the rest were not sent.
    expect(receiver.received()).toBe(2)
    const first = await deliveriesOf(endpointId)
    expect(first).toHaveLength(3)
    const timedOut = first.filter(
      (delivery) => delivery.last_error === `No response within ${timeoutMs / 1000} s`,
    )
    expect(timedOut).toHaveLength(2)
    for (const delivery of timedOut) {
      expect(delivery.last_duration_ms).toBeGreaterThanOrEqual(timeoutMs - 5)
      expect(delivery.last_duration_ms).toBeLessThan(timeoutMs + 1_000)
    }
    const skipped = first.filter((delivery) => delivery.last_error?.includes('circuit breaker is open'))
    expect(skipped).toHaveLength(1)
    for (const delivery of skipped) expect(delivery.last_duration_ms).toBeNull()
    expect(first.every((delivery) => delivery.status === 'pending' && delivery.attempts === 1)).toBe(true)
    expect(await breakerState(endpointId)).toBe(2)
    // Reported by /ready too, without making the instance unready.
    const ready = await t.app.inject({ method: 'GET', url: '/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'ok', webhooks: { open: 1, half_open: 0 } })

    // While open, a new delivery is not sent either: it answers at once and waits for its retry.
    await emit(3)
    const started = performance.now()
    await t.deps.jobs.drain(t.deps)
    expect(performance.now() - started).toBeLessThan(timeoutMs)
    expect(receiver.received()).toBe(2)

    // The endpoint recovers; after the cool-down a probe goes through, succeeds and closes the breaker.
    receiver.recover()
    const until = Date.now() + 60_000
    let deliveries = await deliveriesOf(endpointId)
    while (deliveries.some((delivery) => delivery.status !== 'delivered') && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500))
      await t.deps.jobs.drain(t.deps)
      deliveries = await deliveriesOf(endpointId)
    }
    expect(deliveries.map((delivery) => delivery.status)).toEqual(Array(4).fill('delivered'))
    expect(receiver.received()).toBe(2 + 4)
    expect(await breakerState(endpointId)).toBe(0)
    expect((await t.app.inject({ method: 'GET', url: '/ready' })).json().webhooks).toEqual({
      open: 0,
      half_open: 0,
    })
  })
})
