// Bad input of every shape gets a 4xx RFC 9457 problem with a stable code, and validation errors
// say where the problem is (`body.starts_at`, `query.date`, ...). Never a 500.
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { errorCodes } from '../src/core/errors.ts'
import { bearer, buildTestApp, subscribedAccount, type TestApp, type TestUser } from './helpers/app.ts'

/** Asserts the full problem shape and returns the body for further checks. */
function expectProblem(res: LightMyRequestResponse, status: number, code: keyof typeof errorCodes) {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json()
  expect(body).toMatchObject({
    type: expect.stringContaining(code),
    title: errorCodes[code].title,
    status,
    detail: expect.any(String),
    code,
  })
  return body as { errors?: { location: string; message: string }[] }
}

/** A 400 validation problem whose `errors[]` names `location`. */
function expectInvalid(res: LightMyRequestResponse, location: string) {
  const body = expectProblem(res, 400, 'validation_failed')
  expect(body.errors, res.body).toEqual(expect.arrayContaining([{ location, message: expect.any(String) }]))
}

describe('bad input', () => {
  let t: TestApp
  let owner: TestUser
  let url: string
  let headers: Record<string, string>
  const json = { 'content-type': 'application/json' }

  beforeAll(async () => {
    t = await buildTestApp()
    const world = await subscribedAccount(t.app)
    owner = world.owner
    url = `/v1/accounts/${world.account.id}`
    headers = bearer(owner.token)
  })
  afterAll(async () => {
    await t?.close()
  })

  describe('bodies', () => {
    it('answers 400 validation_failed to malformed JSON', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers: { ...headers, ...json },
        payload: '{"name":',
      })
      expectProblem(res, 400, 'validation_failed')
    })

    it('answers 400 with the field location to wrong types', async () => {
      const name = await t.app.inject({ method: 'POST', url: '/v1/accounts', headers, payload: { name: 5 } })
      expectInvalid(name, 'body.name')
      const quantity = await t.app.inject({
        method: 'POST',
        url: `${url}/usage`,
        headers,
        payload: { feature: 'bookings_per_day', quantity: 'x' },
      })
      expectInvalid(quantity, 'body.quantity')
      const flag = await t.app.inject({
        method: 'POST',
        url: `${url}/staff`,
        headers,
        payload: { name: 'Ann', is_active: 'yes' },
      })
      expectInvalid(flag, 'body.is_active')
      const array = await t.app.inject({ method: 'POST', url: '/v1/accounts', headers, payload: [1, 2] })
      expectInvalid(array, 'body')
    })

    it('answers 400 naming each missing required field', async () => {
      const account = await t.app.inject({ method: 'POST', url: '/v1/accounts', headers, payload: {} })
      expectInvalid(account, 'body.name')
      const booking = await t.app.inject({
        method: 'POST',
        url: `${url}/bookings`,
        headers,
        payload: { customer_name: 'Zoe' },
      })
      expectInvalid(booking, 'body.starts_at')
      const usage = await t.app.inject({ method: 'POST', url: `${url}/usage`, headers, payload: {} })
      expectInvalid(usage, 'body.feature')
      expectInvalid(usage, 'body.quantity')
    })

    it('refuses unknown fields on strict bodies (PATCH /v1/me, PATCH account)', async () => {
      const me = await t.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers,
        payload: { name: 'Ann', is_admin: true },
      })
      expectInvalid(me, 'body')
      const after = await t.app.inject({ method: 'GET', url: '/v1/me', headers })
      expect(after.json()).toMatchObject({ is_admin: false, name: null })
      const account = await t.app.inject({ method: 'PATCH', url, headers, payload: { owner_id: owner.id } })
      expectInvalid(account, 'body')
    })

    it('answers 400 body.starts_at to impossible, offset-less and garbage dates', async () => {
      for (const starts_at of [
        '2030-02-30T10:00:00Z',
        '2030-01-01T10:00:00',
        '2030-01-01',
        'next tuesday',
        '',
        '2030-01-01T25:00:00Z',
        '1850-01-01T10:00:00Z',
      ]) {
        const res = await t.app.inject({
          method: 'POST',
          url: `${url}/bookings`,
          headers,
          payload: { customer_name: 'Zoe', starts_at },
        })
        expectInvalid(res, 'body.starts_at')
      }
    })

    it('answers 400 body.timezone to unknown, path-like and huge time zones', async () => {
      for (const timezone of ['Mars/Olympus', '../../etc', 'Europe/Paris/../../etc', 'x'.repeat(5000), '']) {
        const created = await t.app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers,
          payload: { name: 'Zone', timezone },
        })
        expectInvalid(created, 'body.timezone')
        const patched = await t.app.inject({ method: 'PATCH', url, headers, payload: { timezone } })
        expectInvalid(patched, 'body.timezone')
      }
    })

    it('answers 400 to a zero usage quantity and to one beyond the bounds', async () => {
      for (const quantity of [0, 1.5, 10_000_001, -10_000_001]) {
        const res = await t.app.inject({
          method: 'POST',
          url: `${url}/usage`,
          headers,
          payload: { feature: 'bookings_per_day', quantity },
        })
        expectInvalid(res, 'body.quantity')
      }
    })

    it('answers 400 naming the field to a check without a feature or with a quantity below 1', async () => {
      const missing = await t.app.inject({ method: 'POST', url: `${url}/check`, headers, payload: {} })
      expectInvalid(missing, 'body.feature')
      for (const quantity of [0, -1, 1.5, 'x', 1_000_001]) {
        const res = await t.app.inject({
          method: 'POST',
          url: `${url}/check`,
          headers,
          payload: { feature: 'staff', quantity },
        })
        expectInvalid(res, 'body.quantity')
      }
    })

    it('answers 400 naming the field to an external_id that is not 1-255 visible ASCII characters', async () => {
      for (const external_id of ['', 'a b', 'x'.repeat(256), 'a\u0000b', 'é']) {
        const created = await t.app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers,
          payload: { name: 'Ext', external_id },
        })
        expectInvalid(created, 'body.external_id')
        const patched = await t.app.inject({ method: 'PATCH', url, headers, payload: { external_id } })
        expectInvalid(patched, 'body.external_id')
      }
      const query = await t.app.inject({ method: 'GET', url: '/v1/accounts?external_id=a%20b', headers })
      expectInvalid(query, 'query.external_id')
    })

    it('answers 400, not 500, to text the database cannot store (a NUL byte)', async () => {
      const account = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers,
        payload: { name: 'a\u0000b' },
      })
      expectProblem(account, 400, 'validation_failed')
      const staff = await t.app.inject({
        method: 'POST',
        url: `${url}/staff`,
        headers,
        payload: { name: 'a\u0000b' },
      })
      expectProblem(staff, 400, 'validation_failed')
    })

    it('answers 400 to an empty body sent as JSON', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers: { ...headers, ...json },
        payload: '',
      })
      expectProblem(res, 400, 'validation_failed')
    })

    it('answers 415 unsupported_media_type to a body that is not JSON', async () => {
      for (const [type, payload] of [
        ['text/plain', 'name=Salon'],
        ['application/xml', '<account><name>Salon</name></account>'],
        ['application/octet-stream', 'Salon'],
      ]) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers: { ...headers, 'content-type': type },
          payload,
        })
        expectProblem(res, 415, 'unsupported_media_type')
      }
    })

    it('answers 413 payload_too_large above BODY_LIMIT_BYTES and validates just below it', async () => {
      const limit = t.deps.config.BODY_LIMIT_BYTES
      expect(limit).toBe(100 * 1024)
      const envelope = JSON.stringify({ name: '' }).length
      const over = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers,
        payload: { name: 'x'.repeat(limit - envelope + 1) },
      })
      expectProblem(over, 413, 'payload_too_large')
      const under = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers,
        payload: { name: 'x'.repeat(limit - envelope) },
      })
      expectInvalid(under, 'body.name')
    })
  })

  describe('paths, methods and query strings', () => {
    it('answers 400 path.<param> to an invalid uuid in the path', async () => {
      expectInvalid(
        await t.app.inject({ method: 'GET', url: '/v1/accounts/not-a-uuid', headers }),
        'path.accountId',
      )
      expectInvalid(
        await t.app.inject({ method: 'DELETE', url: `${url}/staff/123`, headers }),
        'path.staffId',
      )
      expectInvalid(
        await t.app.inject({ method: 'POST', url: `${url}/bookings/%27%20or%201%3D1/cancel`, headers }),
        'path.bookingId',
      )
    })

    it('answers 400 problems to malformed percent-encoding and over-long path parameters', async () => {
      for (const path of ['/v1/accounts/%ZZ', `/v1/accounts/%/staff`, `/v1/accounts/${'a'.repeat(250)}`]) {
        expectProblem(await t.app.inject({ method: 'GET', url: path, headers }), 400, 'validation_failed')
      }
    })

    it('answers 404 not_found problems to unknown routes and unsupported methods', async () => {
      for (const [method, path] of [
        ['GET', '/v1/nope'],
        ['GET', '/v2/accounts'],
        ['PUT', '/v1/accounts'],
        ['DELETE', url],
        ['PATCH', `${url}/bookings`],
      ] as const) {
        const body = expectProblem(await t.app.inject({ method, url: path, headers }), 404, 'not_found')
        expect(body).not.toHaveProperty('errors')
      }
    })

    it('answers 400 query.date to an impossible ?date on entitlements and the bookings list', async () => {
      for (const date of ['2030-13-01', '2030-02-30', '30-01-01', 'today']) {
        expectInvalid(
          await t.app.inject({ method: 'GET', url: `${url}/entitlements?date=${date}`, headers }),
          'query.date',
        )
        expectInvalid(
          await t.app.inject({ method: 'GET', url: `${url}/bookings?date=${date}`, headers }),
          'query.date',
        )
      }
    })

    it('answers 400 query.limit / query.cursor to invalid pagination', async () => {
      for (const list of [
        '/v1/accounts',
        `${url}/staff`,
        `${url}/bookings`,
        `${url}/members`,
        `${url}/invitations`,
      ]) {
        for (const limit of ['0', '1000', '-1', 'abc', '2.5']) {
          expectInvalid(
            await t.app.inject({ method: 'GET', url: `${list}?limit=${limit}`, headers }),
            'query.limit',
          )
        }
        const notJson = Buffer.from('{"a":1}').toString('base64url')
        for (const cursor of ['@@@', notJson, 'x'.repeat(300)]) {
          expectInvalid(
            await t.app.inject({ method: 'GET', url: `${list}?cursor=${cursor}`, headers }),
            'query.cursor',
          )
        }
      }
    })

    it('answers 400 header.idempotency-key to a key with a space or longer than 255 characters', async () => {
      for (const key of ['has space', 'k'.repeat(300), 'tab\there']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers: { ...headers, 'idempotency-key': key },
          payload: { name: 'Keyed' },
        })
        expectInvalid(res, 'header.idempotency-key')
      }
      const accounts = await t.app.inject({ method: 'GET', url: '/v1/accounts?limit=100', headers })
      expect(accounts.json().data.map((a: { name: string }) => a.name)).not.toContain('Keyed')
    })
  })
})
