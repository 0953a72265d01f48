import { describe, expect, it } from 'vitest'
import {
  createPlangate,
  isRetryable,
  isRetryableStatus,
  retryAfterMs,
  takesIdempotencyKey,
} from './client.ts'
import { idempotentOperations } from './idempotent-operations.ts'

describe('retry rules', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-12-07T10:00:00Z')
    expect(retryAfterMs('3', now)).toBe(3000)
    expect(retryAfterMs(' 0 ', now)).toBe(0)
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:05 GMT', now)).toBe(5000)
    expect(retryAfterMs('Mon, 07 Dec 2026 09:59:00 GMT', now)).toBe(0)
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs(null, now)).toBeUndefined()
  })

  it('retries safe methods, and POST or PATCH only with an Idempotency-Key', () => {
    const url = 'http://plangate.test/v1/plans'
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE'])
      expect(isRetryable(new Request(url, { method }))).toBe(true)
    for (const method of ['POST', 'PATCH']) {
      expect(isRetryable(new Request(url, { method }))).toBe(false)
      expect(isRetryable(new Request(url, { method, headers: { 'idempotency-key': 'k' } }))).toBe(true)
    }
  })

  it('retries 429, 5xx but 501, and a 409 that says when', () => {
    const status = (code: number, headers: Record<string, string> = {}) =>
      isRetryableStatus(new Response(null, { status: code, headers }))
    expect([429, 500, 502, 503, 504].map((code) => status(code))).toEqual([true, true, true, true, true])
    expect([400, 401, 404, 409, 501].map((code) => status(code))).toEqual([false, false, false, false, false])
    expect(status(409, { 'retry-after': '1' })).toBe(true)
  })
})

describe('which POSTs are sent again', () => {
  it('takes the operations that declare Idempotency-Key from the generated list', () => {
    expect(idempotentOperations.has('POST /v1/accounts/{accountId}/staff')).toBe(true)
    expect(idempotentOperations.has('POST /v1/accounts/{accountId}/usage')).toBe(true)
    expect(idempotentOperations.has('POST /v1/auth/refresh')).toBe(false)
    expect(idempotentOperations.has('POST /v1/accounts/{accountId}/subscription/cancel')).toBe(false)
    expect([...idempotentOperations].every((operation) => /^[A-Z]+ \/v1\/\S+$/.test(operation))).toBe(true)
    expect(takesIdempotencyKey('post', '/v1/accounts/{accountId}/staff')).toBe(true)
    expect(takesIdempotencyKey('POST', '/v1/accounts/{accountId}/check')).toBe(false)
  })

  /** A client over a fake fetch that answers each attempt with the next outcome, recording the requests. */
  function clientWith(outcomes: ('network' | 'hang' | number)[]) {
    const sent: Request[] = []
    const pg = createPlangate({
      baseUrl: 'http://plangate.test',
      apiKey: 'pgk_test',
      timeoutMs: 50,
      baseRetryDelayMs: 1,
      fetch: async (input, init) => {
        const request = input instanceof Request ? input : new Request(input, init)
        sent.push(request)
        const outcome = outcomes.shift() ?? 200
        if (outcome === 'network') throw new TypeError('fetch failed')
        if (outcome === 'hang') {
          return new Promise<Response>((_, reject) =>
            request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true }),
          )
        }
        return Response.json({}, { status: outcome })
      },
    })
    return { pg, sent }
  }
  const accountId = '0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b'
  const path = { path: { accountId } }

  it('sends a cancel once, without a key: a timeout reaches the caller', async () => {
    const { pg, sent } = clientWith(['hang', 200])
    await expect(
      pg.POST('/v1/accounts/{accountId}/subscription/cancel', { params: path }),
    ).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(sent).toHaveLength(1)
    expect(sent[0]?.headers.has('idempotency-key')).toBe(false)
  })

  it('sends a refresh once: a network error is thrown, a 503 returned', async () => {
    const lost = clientWith(['network', 200])
    await expect(lost.pg.POST('/v1/auth/refresh', { body: { refresh_token: 'pgr_x' } })).rejects.toThrow(
      'fetch failed',
    )
    expect(lost.sent).toHaveLength(1)
    const busy = clientWith([503, 200])
    const result = await busy.pg.POST('/v1/auth/refresh', { body: { refresh_token: 'pgr_x' } })
    expect(result.response.status).toBe(503)
    expect(busy.sent).toHaveLength(1)
  })

  it("drops a caller's key on an operation that ignores it, and sends it once", async () => {
    const { pg, sent } = clientWith([503, 200])
    const result = await pg.POST('/v1/accounts/{accountId}/subscription/resume', {
      params: path,
      headers: { 'idempotency-key': 'caller-key' },
    })
    expect(result.response.status).toBe(503)
    expect(sent).toHaveLength(1)
    expect(sent[0]?.headers.has('idempotency-key')).toBe(false)
  })

  it('retries a create with one generated key, and a GET', async () => {
    const create = clientWith(['hang', 'network', 201])
    const result = await create.pg.POST('/v1/accounts/{accountId}/staff', {
      params: path,
      body: { name: 'Ann' },
    })
    expect(result.response.status).toBe(201)
    const keys = create.sent.map((request) => request.headers.get('idempotency-key'))
    expect(keys).toHaveLength(3)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Set(keys).size).toBe(1)

    const read = clientWith(['network', 503, 200])
    expect((await read.pg.GET('/v1/accounts/{accountId}', { params: path })).response.status).toBe(200)
    expect(read.sent).toHaveLength(3)
    expect(read.sent[0]?.headers.has('idempotency-key')).toBe(false)
  })
})
