import { describe, expect, it } from 'vitest'
import { isRetryable, isRetryableStatus, retryAfterMs } from './client.ts'

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
