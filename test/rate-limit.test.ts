// RATE_LIMIT_PER_MINUTE (per user, or per IP when anonymous), AUTH_RATE_LIMIT_PER_MINUTE (per IP +
// identifier; refresh per token) and AUTH_IP_RATE_LIMIT_PER_MINUTE (per IP over the auth routes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.ts'
import {
  bearer,
  buildTestApp,
  problemOf,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from './helpers/app.ts'

describe('rate limits', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ RATE_LIMIT_PER_MINUTE: '5', AUTH_RATE_LIMIT_PER_MINUTE: '3' })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('answers 429 rate_limited with Retry-After and RateLimit-* headers once an anonymous client passes the limit', async () => {
    const remoteAddress = '198.51.100.7'
    const statuses: number[] = []
    let last = await t.app.inject({ method: 'GET', url: '/v1/plans', remoteAddress })
    statuses.push(last.statusCode)
    for (let i = 0; i < 5; i++) {
      last = await t.app.inject({ method: 'GET', url: '/v1/plans', remoteAddress })
      statuses.push(last.statusCode)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429])
    expect(last.headers['content-type']).toContain('application/problem+json')
    expect(last.json()).toMatchObject({ status: 429, code: 'rate_limited' })
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0)
    expect(last.headers['ratelimit-limit']).toBe('5')
    expect(last.headers['ratelimit-remaining']).toBe('0')
    // Another client is unaffected.
    const other = await t.app.inject({ method: 'GET', url: '/v1/plans', remoteAddress: '198.51.100.8' })
    expect(other.statusCode).toBe(200)
  })

  it('counts an authenticated user across IPs, separately from anonymous traffic of the same IP', async () => {
    const user = await registerAndLogin(t.app, {})
    const results: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/me',
        headers: bearer(user.token),
        remoteAddress: `203.0.113.${i + 1}`,
      })
      results.push(res.statusCode)
    }
    expect(results).toEqual([200, 200, 200, 200, 200, 429])
  })

  it('limits credential attempts per IP and identifier, and leaves other identifiers alone', async () => {
    const remoteAddress = '192.0.2.44'
    const attempt = (username: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/token',
        remoteAddress,
        payload: { username, password: 'wrong-password-123' },
      })
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await attempt('victim@example.test')).statusCode)
    expect(statuses).toEqual([401, 401, 401, 429])
    expect((await attempt('someone-else@example.test')).statusCode).toBe(401)
  })

  it('never limits /health', async () => {
    for (let i = 0; i < 8; i++) {
      const res = await t.app.inject({ method: 'GET', url: '/health', remoteAddress: '192.0.2.99' })
      expect(res.statusCode).toBe(200)
    }
  })
})

describe('client IP behind proxies (TRUST_PROXY)', () => {
  const attemptsFrom = async (t: TestApp, forwardedFor: string) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      remoteAddress: '10.9.8.7',
      headers: { 'x-forwarded-for': forwardedFor },
      payload: { username: 'same-identifier@example.test', password: 'wrong-password-123' },
    })

  it('ignores X-Forwarded-For from an untrusted peer: spoofed addresses share one budget', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '2' })
    try {
      const statuses = []
      for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3'])
        statuses.push((await attemptsFrom(t, ip)).statusCode)
      expect(statuses).toEqual([401, 401, 429])
    } finally {
      await t.close()
    }
  })

  it('keys by the forwarded client address when the proxy is trusted', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: '10.0.0.0/8' })
    try {
      const statuses = []
      for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3'])
        statuses.push((await attemptsFrom(t, ip)).statusCode)
      expect(statuses).toEqual([401, 401, 401])
      expect((await attemptsFrom(t, '203.0.113.1')).statusCode).toBe(401)
      expect((await attemptsFrom(t, '203.0.113.1')).statusCode).toBe(429)
    } finally {
      await t.close()
    }
  })
})

// Hardening item 2: password guessing was barely limited. Padding or re-casing the username gave
// a fresh bucket per attempt, auth routes had no ceiling per client IP, and refresh put everyone
// behind one proxy into a single bucket.
describe('auth rate limits against password guessing', () => {
  const token = (t: TestApp, payload: Record<string, string>, remoteAddress: string) =>
    t.app.inject({ method: 'POST', url: '/v1/auth/token', remoteAddress, payload })

  it('gives whitespace- and case-padded spellings of one username one bucket, as login reads them', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '3' })
    try {
      const victim = await registerAndLogin(t.app)
      const spellings = [
        victim.email,
        ` ${victim.email}`,
        `${victim.email.toUpperCase()}  `,
        `\t${victim.email.replace(/^./, (c) => c.toUpperCase())}`,
        `   ${victim.email}   `,
      ]
      const statuses = []
      for (const username of spellings)
        statuses.push((await token(t, { username, password: 'wrong-password-123' }, '192.0.2.50')).statusCode)
      expect(statuses).toEqual([401, 401, 401, 429, 429])
      // `email` names the same user as `username`, so it shares the bucket too.
      const byEmail = await token(t, { email: victim.email, password: victim.password }, '192.0.2.50')
      expect(byEmail.statusCode).toBe(429)
    } finally {
      await t.close()
    }
  })

  it('caps many usernames from one IP with the per-IP ceiling (429, Retry-After), leaving other IPs alone', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '3', AUTH_IP_RATE_LIMIT_PER_MINUTE: '5' })
    try {
      const statuses = []
      let last = await token(
        t,
        { username: 'spray-0@example.test', password: 'wrong-password-123' },
        '192.0.2.60',
      )
      statuses.push(last.statusCode)
      for (let i = 1; i < 8; i++) {
        last = await token(
          t,
          { username: `spray-${i}@example.test`, password: 'wrong-password-123' },
          '192.0.2.60',
        )
        statuses.push(last.statusCode)
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429])
      expect(problemOf(last)).toMatchObject({ status: 429, code: 'rate_limited' })
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0)
      expect(last.headers['ratelimit-limit']).toBe('5')
      // The ceiling spans the auth routes: the capped address cannot switch to forgot-password.
      const forgot = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/password/forgot',
        remoteAddress: '192.0.2.60',
        payload: { email: 'spray-9@example.test' },
      })
      expect(forgot.statusCode).toBe(429)
      expect(
        (await token(t, { username: 'spray-0@example.test', password: 'x' }, '192.0.2.61')).statusCode,
      ).toBe(401)
    } finally {
      await t.close()
    }
  })

  it('lets exactly the ceiling through when many sign-in attempts from one IP arrive at once', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '3', AUTH_IP_RATE_LIMIT_PER_MINUTE: '5' })
    try {
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          token(t, { username: `burst-${i}@example.test`, password: 'wrong-password-123' }, '192.0.2.65'),
        ),
      )
      const statuses = results.map((res) => res.statusCode)
      expect(statuses.filter((status) => status === 401)).toHaveLength(5)
      expect(statuses.filter((status) => status === 429)).toHaveLength(25)
    } finally {
      await t.close()
    }
  })

  it('refuses a burst of registrations from one IP with 429 at the default ceiling', async () => {
    const ceiling = loadConfig({}).AUTH_IP_RATE_LIMIT_PER_MINUTE
    expect(ceiling).toBeGreaterThan(0)
    expect(ceiling).toBeLessThan(30)
    const t = await buildTestApp({
      AUTH_RATE_LIMIT_PER_MINUTE: '10',
      AUTH_IP_RATE_LIMIT_PER_MINUTE: String(ceiling),
    })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 31; i++) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/register',
          remoteAddress: '192.0.2.70',
          payload: { email: uniqueEmail('burst'), password: 'correct-horse-battery-staple' },
        })
        statuses.push(res.statusCode)
      }
      const firstRefused = statuses.indexOf(429)
      expect(firstRefused).toBe(ceiling)
      expect(statuses.slice(0, ceiling).every((status) => status >= 200 && status < 300)).toBe(true)
      expect(statuses.slice(ceiling).every((status) => status === 429)).toBe(true)
    } finally {
      await t.close()
    }
  })

  it('keys refresh by the sign-in behind one untrusted proxy: one client cannot exhaust the others, nor rotate its way past its budget', async () => {
    const t = await buildTestApp({
      AUTH_RATE_LIMIT_PER_MINUTE: '2',
      REFRESH_RATE_LIMIT_PER_MINUTE: '2',
      AUTH_IP_RATE_LIMIT_PER_MINUTE: '100',
    })
    try {
      const proxy = '10.20.30.40'
      const people = await Promise.all([1, 2, 3].map(() => registerAndLogin(t.app)))
      const refresh = (refreshToken: string, viaToken = false) =>
        t.app.inject({
          method: 'POST',
          url: viaToken ? '/v1/auth/token' : '/v1/auth/refresh',
          remoteAddress: proxy,
          payload: viaToken
            ? { grant_type: 'refresh_token', refresh_token: refreshToken }
            : { refresh_token: refreshToken },
        })
      const statuses: number[] = []
      const latest: string[] = []
      for (const person of people) {
        let refreshToken = person.refreshToken
        for (let i = 0; i < 2; i++) {
          const res = await refresh(refreshToken)
          statuses.push(res.statusCode)
          refreshToken = res.json().refresh_token
        }
        latest.push(refreshToken)
      }
      // Six refreshes from one address with a budget of two: each sign-in has a bucket of its own.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200])
      // A third refresh of one sign-in is refused although its token is brand new (rotation does
      // not reset the budget); the other sign-ins are untouched.
      expect((await refresh(latest[0] ?? '')).statusCode).toBe(429)
      expect((await refresh(latest[1] ?? '', true)).statusCode).toBe(200)
      // Tokens that belong to no sign-in share their address's bucket: guessing is capped.
      const guessed = []
      for (let i = 0; i < 3; i++) {
        guessed.push((await refresh(`not-a-real-refresh-token-${i}-0123456789`)).statusCode)
      }
      expect(guessed).toEqual([401, 401, 429])
    } finally {
      await t.close()
    }
  })

  it('gives a sign-in its own refresh budget, larger than the attempts a password gets', async () => {
    // The defaults but for the budgets under test: a page load of the web UI refreshes once, so
    // 15 loads in a minute are fine while 15 password guesses are not.
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '10', REFRESH_RATE_LIMIT_PER_MINUTE: '20' })
    try {
      const person = await registerAndLogin(t.app)
      let refreshToken = person.refreshToken
      const statuses: number[] = []
      for (let i = 0; i < 21; i++) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/refresh',
          payload: { refresh_token: refreshToken },
        })
        statuses.push(res.statusCode)
        if (res.statusCode === 200) refreshToken = res.json().refresh_token
      }
      expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200))
      expect(statuses[20]).toBe(429)
      // Unknown tokens still get the attempts' budget per address.
      const guessed = []
      for (let i = 0; i < 11; i++) {
        guessed.push(
          (
            await t.app.inject({
              method: 'POST',
              url: '/v1/auth/refresh',
              payload: { refresh_token: `not-a-real-refresh-token-${i}-0123456789` },
            })
          ).statusCode,
        )
      }
      expect(guessed).toEqual([...Array(10).fill(401), 429])
    } finally {
      await t.close()
    }
  })
})
