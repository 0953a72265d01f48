// RATE_LIMIT_PER_MINUTE (per user, or per IP when anonymous) and AUTH_RATE_LIMIT_PER_MINUTE (per IP + identifier).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, registerAndLogin, type TestApp } from './helpers/app.ts'

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
