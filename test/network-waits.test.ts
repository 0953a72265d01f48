// No network wait while a database connection is held (issue 14): an OAuth provider or an SMTP
// server that hangs keeps its own request or job waiting, and nothing else. On PGlite, which has a
// single connection, any call made inside a transaction would stall every other request.
import { createServer, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendVerificationEmail } from '../src/modules/auth/jobs.ts'
import { createMailer } from '../src/modules/mail/index.ts'
import { createSmtpMailer } from '../src/modules/mail/smtp.ts'
import {
  bearer,
  buildTestApp,
  login,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
  uniqueEmail,
} from './helpers/app.ts'
import { type FakeOAuth, startFakeOAuth } from './helpers/fake-oauth.ts'

// Longer than the 2 s the other requests are allowed: a call made while holding the connection
// would hold them up for about this long.
const providerTimeoutMs = 4_000

/** Requests that touch no provider, each timed; they must all answer promptly. */
async function probeTheRest(t: TestApp) {
  const { owner, account } = await subscribedAccount(t.app)
  const timings: { name: string; ms: number; status: number }[] = []
  const timed = async (name: string, run: () => Promise<number>) => {
    const started = performance.now()
    const status = await run()
    timings.push({ name, ms: performance.now() - started, status })
  }
  await timed('plans', async () => (await t.app.inject({ method: 'GET', url: '/v1/plans' })).statusCode)
  await timed(
    'entitlements',
    async () =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/accounts/${account.id}/entitlements`,
          headers: bearer(owner.token),
        })
      ).statusCode,
  )
  await timed('sign-in', async () => {
    await login(t.app, owner.email, owner.password)
    return 200
  })
  await timed(
    'booking',
    async () =>
      (
        await t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/bookings`,
          headers: bearer(owner.token),
          payload: { customer_name: 'Zoé', starts_at: '2030-03-10T10:00:00+01:00' },
        })
      ).statusCode,
  )
  return timings
}

async function waitFor(condition: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  expect(condition()).toBe(true)
}

describe('an OAuth provider that hangs', () => {
  let fake: FakeOAuth
  let t: TestApp

  beforeAll(async () => {
    fake = await startFakeOAuth()
    t = await buildTestApp({ ...fake.env, OAUTH_TIMEOUT_MS: String(providerTimeoutMs) })
  })
  afterAll(async () => {
    fake?.reset()
    await t?.close()
    await fake?.close()
  })

  it('keeps every other request answering while a sign-in waits on it, then answers that sign-in 503', async () => {
    fake.fail('token', 'hang')
    const started = await t.app.inject({ method: 'GET', url: '/v1/auth/oauth/google/start' })
    const flow = started.cookies.find((cookie) => cookie.name === 'oauth_flow')?.value ?? ''
    const callbackUrl = new URL(
      await fake.authorize(String(started.headers.location), {
        user: { sub: `1${Date.now()}`, email: uniqueEmail('google'), email_verified: true },
      }),
    )
    let settled = false
    const pending = t.app
      .inject({
        method: 'GET',
        url: `${callbackUrl.pathname}${callbackUrl.search}`,
        headers: { cookie: `oauth_flow=${flow}` },
      })
      .finally(() => {
        settled = true
      })
    await waitFor(() => fake.requests.includes('POST /google/token'))

    const timings = await probeTheRest(t)
    expect(settled).toBe(false)
    for (const { name, ms, status } of timings) {
      expect(status, name).toBeLessThan(300)
      expect(ms, name).toBeLessThan(2_000)
    }
    const res = await pending
    expect(res.statusCode).toBe(503)
    expect(res.json().code).toBe('provider_unavailable')
  })
})

describe('an SMTP server that hangs', () => {
  const sockets = new Set<Socket>()
  // Takes the connection and never sends its greeting.
  const silent = createServer((socket) => sockets.add(socket))
  let t: TestApp

  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    t = await buildTestApp()
    const { port } = silent.address() as { port: number }
    t.deps.mailer = createSmtpMailer({
      url: `smtp://127.0.0.1:${port}`,
      from: 'plangate <no-reply@plangate.test>',
      timeoutMs: providerTimeoutMs,
    })
  })
  afterAll(async () => {
    await t?.close()
    for (const socket of sockets) socket.destroy()
    silent.close()
  })

  it('keeps every other request answering while an email job waits on it', async () => {
    const user = await registerAndLogin(t.app)
    await t.deps.db.transaction((tx) =>
      t.deps.jobs.enqueue(tx, sendVerificationEmail, { user_id: user.id }, { key: `again:${user.id}` }),
    )
    let settled = false
    const draining = t.deps.jobs.drain(t.deps).finally(() => {
      settled = true
    })
    await waitFor(() => sockets.size > 0)

    const timings = await probeTheRest(t)
    expect(settled).toBe(false)
    for (const { name, ms, status } of timings) {
      expect(status, name).toBeLessThan(300)
      expect(ms, name).toBeLessThan(2_000)
    }
    // The mails queued meanwhile need not each wait out the silent server: they go to the outbox.
    t.deps.mailer = createMailer(t.deps.config, t.deps.log)
    await draining
  })
})
