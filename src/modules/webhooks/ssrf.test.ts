// Outgoing webhooks as an SSRF probe (issue 14, hardening item 7): an admin could register an
// internal URL and read the answer back from the delivery log. Literal internal addresses are
// refused at registration; names are resolved once at delivery, every address checked, and the
// socket opened to the checked address. The network is injected: no test here opens a socket to
// anything but 127.0.0.1, and the refused cases must not open one at all.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, loginAdmin, type TestApp } from '../../../test/helpers/app.ts'
import { newId } from '../../core/ids.ts'
import { emitEvent } from './events.ts'
import { webhookEndpoints } from './tables.ts'
import { type ConnectTarget, systemNetwork, type WebhookNetwork } from './transport.ts'

/** A network whose name resolution is scripted and whose connections are counted. */
function scriptedNetwork() {
  const answers = new Map<string, string[]>()
  const resolved: string[] = []
  const connections: ConnectTarget[] = []
  const network: WebhookNetwork = {
    async resolve(hostname) {
      resolved.push(hostname)
      const addresses = answers.get(hostname)
      if (!addresses) throw Object.assign(new Error(`no answer for ${hostname}`), { code: 'ENOTFOUND' })
      return addresses
    },
    connect(target) {
      connections.push(target)
      // Only the loopback receiver is ever really connected to; anything else fails on the spot.
      if (target.address === '127.0.0.1') return systemNetwork.connect(target)
      const socket = new PassThrough()
      process.nextTick(() =>
        socket.destroy(Object.assign(new Error('test network: no route'), { code: 'EHOSTUNREACH' })),
      )
      return socket
    },
  }
  return { network, answers, resolved, connections }
}

async function startReceiver() {
  let hits = 0
  const server: Server = createServer((_req, res) => {
    hits++
    res.writeHead(200, { 'content-type': 'text/plain' }).end('internal admin console: secret')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    hits: () => hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('outgoing webhooks cannot reach internal addresses', () => {
  let t: TestApp
  let admin: string
  let net: ReturnType<typeof scriptedNetwork>
  let receiver: Awaited<ReturnType<typeof startReceiver>>

  beforeAll(async () => {
    net = scriptedNetwork()
    t = await buildTestApp(
      {
        WEBHOOK_ALLOW_PRIVATE_URLS: 'false',
        WEBHOOK_RETRY_DELAY_SECONDS: '0',
        WEBHOOK_BREAKER_FAILURES: '100',
      },
      { webhookNetwork: net.network },
    )
    admin = await loginAdmin(t.app)
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver?.close()
    await t?.close()
  })

  const register = (url: string) =>
    t.app.inject({ method: 'POST', url: '/v1/webhook-endpoints', headers: bearer(admin), payload: { url } })
  const remove = (id: string) =>
    t.app.inject({ method: 'DELETE', url: `/v1/webhook-endpoints/${id}`, headers: bearer(admin) })
  const deliveries = async (endpointId: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/webhook-endpoints/${endpointId}/deliveries`,
      headers: bearer(admin),
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data as Record<string, unknown>[]
  }
  /** One event delivered (all its attempts) to `endpointId` only, which is then deleted. */
  async function deliverTo(endpointId: string) {
    await t.deps.db.transaction((tx) =>
      emitEvent(tx, t.deps, { type: 'invoice.created', accountId: null, data: {} }),
    )
    await t.deps.jobs.drain(t.deps)
    await remove(endpointId)
    return deliveries(endpointId)
  }

  it('refuses to register a literal loopback, private, link-local, metadata or localhost URL (400 url_not_allowed)', async () => {
    const refused = [
      'http://127.0.0.1:8080/hook',
      'http://127.1.2.3/hook',
      'http://2130706433/hook', // 127.0.0.1 as one number
      'http://0x7f.1/hook', // 127.0.0.1 in hex
      'http://localhost:3000/hook',
      'http://LOCALHOST./hook',
      'http://api.localhost/hook',
      'http://0.0.0.0/hook',
      'http://10.0.0.5/hook',
      'http://172.16.4.4/hook',
      'http://192.168.1.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/hook',
      'http://[::1]/hook',
      'http://[::]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:a9fe:a9fe]/hook', // 169.254.169.254, IPv4-mapped
      'http://[fd00::1]/hook',
      'http://[fd00:ec2::254]/latest/meta-data/',
      'http://[fe80::1]/hook',
    ]
    for (const url of refused) {
      const res = await register(url)
      expect(res.statusCode, url).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json(), url).toMatchObject({
        code: 'url_not_allowed',
        errors: [{ location: 'body.url', message: expect.any(String) }],
      })
    }
    // Registration resolves nothing: names are checked at delivery.
    expect(net.resolved).toEqual([])
    const named = await register('https://hooks.example.test/plangate')
    expect(named.statusCode, named.body).toBe(201)
    await remove(named.json().id)
  })

  it('does not connect to a host name that resolves to a private address, and says why in the log', async () => {
    net.answers.set('crm.example.test', ['10.0.0.5'])
    const res = await register('http://crm.example.test:8080/hook')
    expect(res.statusCode, res.body).toBe(201)
    const before = net.connections.length
    const [delivery] = await deliverTo(res.json().id)
    expect(net.resolved).toContain('crm.example.test')
    expect(net.connections.length - before).toBe(0)
    expect(delivery).toMatchObject({
      status: 'failed',
      last_status_code: null,
      last_error: 'Not sent: the host resolves to an internal address (private)',
    })
  })

  it.each([
    ['one internal address among public ones', ['93.184.215.14', '127.0.0.1']],
    ['the metadata address, IPv4-mapped in IPv6', ['::ffff:169.254.169.254']],
    ['a unique-local IPv6 address', ['fd12:3456::1']],
    ['a carrier-grade NAT address', ['100.100.100.200']],
  ])('does not connect when the name resolves to %s', async (_case, addresses) => {
    const host = `h${newId().slice(-12)}.example.test`
    net.answers.set(host, addresses)
    const res = await register(`https://${host}/hook`)
    expect(res.statusCode, res.body).toBe(201)
    const before = net.connections.length
    const [delivery] = await deliverTo(res.json().id)
    expect(net.connections.length - before).toBe(0)
    expect(delivery).toMatchObject({ status: 'failed', last_error: expect.stringMatching(/^Not sent: /) })
  })

  it('connects to the address it checked, with the name for Host and SNI (no second lookup to rebind)', async () => {
    const host = `h${newId().slice(-12)}.example.test`
    net.answers.set(host, ['93.184.215.14'])
    const res = await register(`https://${host}/hook`)
    expect(res.statusCode, res.body).toBe(201)
    const before = net.connections.length
    const lookupsBefore = net.resolved.filter((name) => name === host).length
    const [delivery] = await deliverTo(res.json().id)
    const made = net.connections.slice(before)
    expect(made[0]).toEqual({ address: '93.184.215.14', port: 443, tls: true, servername: host })
    // Every attempt connected to the checked address, and every connection followed its own checked
    // lookup: the socket is never given the name to resolve again.
    expect(made.every((target) => target.address === '93.184.215.14')).toBe(true)
    expect(net.resolved.filter((name) => name === host).length - lookupsBefore).toBe(made.length)
    expect(delivery).toMatchObject({ status: 'failed', last_error: 'Host unreachable' })
  })

  it('refuses at delivery an endpoint on 127.0.0.1 stored before the rule, sending nothing', async () => {
    // As if registered before this rule existed (or by an older version): only delivery can stop it.
    const id = newId()
    await t.deps.db.insert(webhookEndpoints).values({
      id,
      url: `http://127.0.0.1:${receiver.port}/hook`,
      secret: 'whsec_test',
      events: ['*'],
    })
    const [delivery] = await deliverTo(id)
    expect(receiver.hits()).toBe(0)
    expect(delivery).toMatchObject({
      status: 'failed',
      last_error: 'Not sent: Webhook URLs may not point at an internal address (loopback)',
    })
    expect(JSON.stringify(delivery)).not.toContain('secret')
  })

  it('delivers to 127.0.0.1 when WEBHOOK_ALLOW_PRIVATE_URLS=true, keeping the status and not the body', async () => {
    const allowing = await buildTestApp(
      { WEBHOOK_ALLOW_PRIVATE_URLS: 'true' },
      { testDb: t.testDb, webhookNetwork: net.network },
    )
    try {
      const token = await loginAdmin(allowing.app)
      const res = await allowing.app.inject({
        method: 'POST',
        url: '/v1/webhook-endpoints',
        headers: bearer(token),
        payload: { url: `http://127.0.0.1:${receiver.port}/hook` },
      })
      expect(res.statusCode, res.body).toBe(201)
      const endpointId = res.json().id
      await allowing.deps.db.transaction((tx) =>
        emitEvent(tx, allowing.deps, { type: 'invoice.created', accountId: null, data: {} }),
      )
      await allowing.deps.jobs.drain(allowing.deps)
      await allowing.app.inject({
        method: 'DELETE',
        url: `/v1/webhook-endpoints/${endpointId}`,
        headers: bearer(token),
      })
      expect(receiver.hits()).toBe(1)
      const log = await allowing.app.inject({
        method: 'GET',
        url: `/v1/webhook-endpoints/${endpointId}/deliveries`,
        headers: bearer(token),
      })
      expect(log.json().data).toEqual([
        expect.objectContaining({ status: 'delivered', last_status_code: 200, last_error: null }),
      ])
      expect(log.body).not.toContain('internal admin console')
    } finally {
      await allowing.close()
    }
  })
})
