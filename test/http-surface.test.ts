// The HTTP surface around the routes (hardening issue, items 5, 6a, 8 and 11b): CORS for browsers on
// the allowed origins only, no secret query parameter in any log line, /metrics behind its own
// token, no-store on credentialed answers, and errors that say what to do instead of misleading.
import { randomUUID } from 'node:crypto'
import { type AddressInfo, connect } from 'node:net'
import type { DestinationStream } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger, redactQuery } from '../src/logging.ts'
import { bearer, buildTestApp, problemOf, registerAndLogin, type TestApp } from './helpers/app.ts'

const allowedOrigin = 'https://app.example.test'
const otherOrigin = 'https://evil.example.test'

/** A log destination that keeps every line written, as the process's stdout would receive it. */
function captureLog() {
  const lines: string[] = []
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) }
  return { lines, log: createLogger('info', destination) }
}

describe('CORS (issue item 5: PATCH and DELETE blocked from browsers)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({
      CORS_ORIGINS: `${allowedOrigin}, https://admin.example.test`,
      RATE_LIMIT_PER_MINUTE: '1000',
    })
  })
  afterAll(async () => {
    await t?.close()
  })

  const preflight = (origin: string, method: string) =>
    t.app.inject({
      method: 'OPTIONS',
      url: `/v1/accounts/${randomUUID()}`,
      headers: {
        origin,
        'access-control-request-method': method,
        'access-control-request-headers': 'authorization, content-type, idempotency-key, x-request-id',
      },
    })

  it.each(['PATCH', 'DELETE'])(
    'allows a %s preflight from an allowed origin with the API headers',
    async (method) => {
      const res = await preflight(allowedOrigin, method)
      expect(res.statusCode).toBe(204)
      expect(res.headers['access-control-allow-origin']).toBe(allowedOrigin)
      expect(res.headers['access-control-allow-credentials']).toBe('true')
      const methods = String(res.headers['access-control-allow-methods']).split(/, */)
      expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']))
      const headers = String(res.headers['access-control-allow-headers']).toLowerCase().split(/, */)
      expect(headers).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'x-request-id']),
      )
      expect(String(res.headers.vary)).toMatch(/origin/i)
    },
  )

  it.each(['PATCH', 'DELETE'])(
    'gives a %s preflight from any other origin no CORS header at all',
    async (method) => {
      const res = await preflight(otherOrigin, method)
      expect(res.statusCode).toBe(404)
      const corsHeaders = Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))
      expect(corsHeaders).toEqual([])
    },
  )

  it('gives a real response to another origin no CORS header, so the browser hides it', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/plans', headers: { origin: otherOrigin } })
    expect(res.statusCode).toBe(200)
    expect(Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))).toEqual([])
  })

  it('exposes the rate limit, retry, idempotency, location and request id headers on a real response', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/plans', headers: { origin: allowedOrigin } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBe(allowedOrigin)
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase().split(/, */)
    expect(exposed).toEqual(
      expect.arrayContaining([
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'retry-after',
        'idempotent-replayed',
        'location',
        'x-request-id',
      ]),
    )
    // The exposed names are the ones the API really sends.
    for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'x-request-id']) {
      expect(res.headers[name], name).toBeDefined()
    }
  })
})

describe('logs (issue item 6a: OAuth codes and tokens in logged URLs)', () => {
  const secrets = {
    code: `code-${randomUUID()}`,
    state: `state-${randomUUID()}`,
    token: `token-${randomUUID()}`,
    access_token: `access-${randomUUID()}`,
  }

  it('never writes the values of token, code or state query parameters in request log lines', async () => {
    const { lines, log } = captureLog()
    const t = await buildTestApp({}, { log })
    try {
      await t.app.inject({
        method: 'GET',
        url: `/v1/auth/oauth/github/callback?code=${secrets.code}&state=${secrets.state}`,
      })
      await t.app.inject({
        method: 'GET',
        url: `/v1/plans?limit=5&token=${secrets.token}&ACCESS_TOKEN=${secrets.access_token}`,
      })
      await t.app.inject({ method: 'POST', url: `/v1/auth/email/verify?token=${secrets.token}`, payload: {} })
    } finally {
      await t.close()
    }
    const logged = lines.join('')
    const requests = lines
      .map((line) => JSON.parse(line) as { req?: { url?: string } })
      .flatMap((entry) => (entry.req?.url ? [entry.req.url] : []))
    expect(requests).toEqual(
      expect.arrayContaining([
        '/v1/auth/oauth/github/callback?code=[redacted]&state=[redacted]',
        '/v1/plans?limit=5&token=[redacted]&ACCESS_TOKEN=[redacted]',
      ]),
    )
    for (const secret of Object.values(secrets)) expect(logged).not.toContain(secret)
  })

  it('masks secret query parameters in logged error messages and stacks', () => {
    const { lines, log } = captureLog()
    const error = new Error(
      `GET https://idp.example.test/cb?state=${secrets.state}&code=${secrets.code} failed`,
    )
    log.error({ err: error }, 'provider call failed')
    const entry = JSON.parse(lines.join('')) as { err: { message: string; stack: string } }
    expect(entry.err.message).toBe('GET https://idp.example.test/cb?state=[redacted]&code=[redacted] failed')
    expect(entry.err.stack).not.toContain(secrets.code)
    expect(entry.err.stack).not.toContain(secrets.state)
  })

  it('keeps harmless parameters and masks credential-like names', () => {
    expect(redactQuery('/v1/bookings?date=2030-01-01&limit=5')).toBe('/v1/bookings?date=2030-01-01&limit=5')
    expect(redactQuery('/x?client_secret=a&api_key=b&new_password=c&cursor=d')).toBe(
      '/x?client_secret=[redacted]&api_key=[redacted]&new_password=[redacted]&cursor=d',
    )
    expect(redactQuery('/x?to%6Ben=a')).toBe('/x?to%6Ben=[redacted]')
  })

  it('masks secret names written as arrays, objects or with control characters', () => {
    expect(redactQuery('/v1/plans?token[]=s1&code[a]=s2&access_token[0]=s3&token%00=s4&page[size]=9')).toBe(
      '/v1/plans?token[]=[redacted]&code[a]=[redacted]&access_token[0]=[redacted]&token%00=[redacted]&page[size]=9',
    )
  })
})

describe('/metrics (issue item 8: public metrics)', () => {
  const metricsToken = `metrics-${randomUUID()}`
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ METRICS_TOKEN: metricsToken })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('refuses a scrape without a token, and with a wrong one, with 401 and a Bearer challenge', async () => {
    for (const headers of [
      {},
      bearer('wrong-token-of-some-length'),
      bearer(`${metricsToken}x`),
      { authorization: metricsToken },
    ]) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics', headers })
      expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
      expect(res.body).not.toContain('http_request_duration_seconds')
    }
  })

  it('serves the Prometheus text to the right token, not to be cached', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(metricsToken) })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/plain')
    expect(res.body).toContain('process_cpu_seconds_total')
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('answers 404 when METRICS_TOKEN is not set, whatever the request carries', async () => {
    const off = await buildTestApp({ METRICS_TOKEN: '' })
    try {
      for (const headers of [{}, bearer(metricsToken)]) {
        const res = await off.app.inject({ method: 'GET', url: '/metrics', headers })
        expect(problemOf(res)).toMatchObject({ status: 404, code: 'not_found' })
        expect(res.body).not.toContain('process_cpu_seconds_total')
      }
    } finally {
      await off.close()
    }
  })
})

describe('caching, content types and the Stripe route (issue items 8 and 11b)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  it('marks authenticated responses no-store, and failed credentials too', async () => {
    const user = await registerAndLogin(t.app)
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(user.token) })
    expect(me.statusCode).toBe(200)
    expect(me.headers['cache-control']).toBe('no-store')
    const plans = await t.app.inject({ method: 'GET', url: '/v1/plans', headers: bearer(user.token) })
    expect(plans.headers['cache-control']).toBe('no-store')
    const refused = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer('not-a-token') })
    expect(refused.statusCode).toBe(401)
    expect(refused.headers['cache-control']).toBe('no-store')
  })

  it('leaves the public plan list cacheable when no credentials are sent', async () => {
    const plans = await t.app.inject({ method: 'GET', url: '/v1/plans' })
    expect(plans.statusCode).toBe(200)
    expect(plans.headers['cache-control']).toBeUndefined()
  })

  it('answers a body that is not JSON with 415 saying to send JSON', async () => {
    const user = await registerAndLogin(t.app)
    for (const [type, payload] of [
      ['text/plain', '{"name":"Salon"}'],
      ['application/xml', '<name>Salon</name>'],
      // A cross-site HTML form cannot create anything: forms are only for the token endpoint.
      ['application/x-www-form-urlencoded', 'name=Salon'],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers: { ...bearer(user.token), 'content-type': type },
        payload,
      })
      const problem = problemOf(res)
      expect(problem, type).toMatchObject({ status: 415, code: 'unsupported_media_type' })
      expect(problem.contentType).toMatch(/^application\/problem\+json/)
      expect(problem.body.detail).toBe(
        'This endpoint accepts application/json only: send the body as JSON with Content-Type: application/json',
      )
    }
    const accounts = await t.app.inject({ method: 'GET', url: '/v1/accounts', headers: bearer(user.token) })
    expect(accounts.json().data).toEqual([])
  })

  it('names both accepted types on the token endpoint, which takes JSON or an OAuth2 form', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      headers: { 'content-type': 'text/plain' },
      payload: 'grant_type=password&username=a&password=b',
    })
    expect(problemOf(res)).toMatchObject({ status: 415, code: 'unsupported_media_type' })
    expect(res.json().detail).toBe(
      'This endpoint accepts application/json or application/x-www-form-urlencoded: send the body with one of these Content-Types',
    )
    const form = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password&username=nobody%40example.test&password=wrong-password',
    })
    expect(problemOf(form)).toMatchObject({ status: 401, code: 'unauthorized' })
  })

  it('says Stripe is not configured when its webhook route is called without Stripe', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/billing/webhooks/stripe',
        headers: { 'content-type': type, 'stripe-signature': 't=1,v1=00' },
        payload: JSON.stringify({ id: 'evt_1', type: 'invoice.paid' }),
      })
      const problem = problemOf(res)
      expect(problem, type).toMatchObject({ status: 404, code: 'not_found' })
      expect(problem.contentType).toMatch(/^application\/problem\+json/)
      expect(problem.body.detail).toMatch(/^Stripe is not configured on this server/)
    }
  })
})

describe('requests the HTTP parser rejects', () => {
  let t: TestApp
  let port: number
  beforeAll(async () => {
    t = await buildTestApp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as AddressInfo).port
  })
  afterAll(async () => {
    await t?.close()
  })

  /** Sends raw bytes and returns the whole answer (the server closes the connection). */
  async function raw(request: string): Promise<string> {
    const socket = connect(port, '127.0.0.1')
    socket.end(request)
    const chunks: Buffer[] = []
    for await (const chunk of socket) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }

  it('answers a control byte in a header and an unknown method with a 400 problem, not Fastify JSON', async () => {
    for (const request of [
      'GET /v1/plans HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\n\r\n',
      'BREW /v1/plans HTTP/1.1\r\nHost: x\r\n\r\n',
    ]) {
      const answer = await raw(request)
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      expect(answer).toContain('Content-Type: application/problem+json')
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))
      expect(body).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })
})
