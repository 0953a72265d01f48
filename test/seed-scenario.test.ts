// The first seed's whole job, end to end: a salon subscribes to basic, fills its limits, upgrades to pro.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  problemOf,
  registerAndLogin,
  type TestApp,
} from './helpers/app.ts'

describe('salon scenario', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  it('enforces basic limits, then pro limits after an upgrade', async () => {
    const { app } = t
    const owner = await registerAndLogin(app)
    const account = await createAccount(app, owner.token, { name: 'Chic-Chic', timezone: 'Europe/Paris' })
    const headers = bearer(owner.token)
    const url = `/v1/accounts/${account.id}`

    const noSub = await app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name: 'Ann' } })
    expect(problemOf(noSub)).toMatchObject({ status: 403, code: 'subscription_required' })

    const sub = await app.inject({
      method: 'POST',
      url: `${url}/subscription`,
      headers,
      payload: { plan: 'basic' },
    })
    expect(sub.statusCode).toBe(201)
    expect(sub.json()).toMatchObject({ plan: 'basic', status: 'active', has_access: true })

    for (const name of ['Ann', 'Bea']) {
      const res = await app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name } })
      expect(res.statusCode).toBe(201)
    }
    const third = await app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name: 'Cid' } })
    expect(problemOf(third)).toMatchObject({ status: 403, code: 'limit_exceeded' })
    expect(third.json()).toMatchObject({ feature: 'staff', limit: 2, used: 2 })

    const day = '2030-03-10'
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({
        method: 'POST',
        url: `${url}/bookings`,
        headers,
        payload: { customer_name: `C${i}`, starts_at: `${day}T1${i}:00:00+01:00` },
      })
      expect(res.statusCode, res.body).toBe(201)
    }
    const sixth = await app.inject({
      method: 'POST',
      url: `${url}/bookings`,
      headers,
      payload: { customer_name: 'C6', starts_at: `${day}T16:00:00+01:00` },
    })
    expect(problemOf(sixth)).toMatchObject({ status: 403, code: 'limit_exceeded' })
    expect(sixth.json()).toMatchObject({ feature: 'bookings_per_day', limit: 5, used: 5 })

    const ent = await app.inject({ method: 'GET', url: `${url}/entitlements?date=${day}`, headers })
    expect(ent.statusCode, ent.body).toBe(200)
    expect(ent.json().features).toMatchObject({
      staff: { kind: 'count', limit: 2, used: 2, remaining: 0, over_limit: false },
      bookings_per_day: { kind: 'per_day', date: day, limit: 5, used: 5, remaining: 0 },
    })

    const upgrade = await app.inject({
      method: 'PATCH',
      url: `${url}/subscription`,
      headers,
      payload: { plan: 'pro' },
    })
    expect(upgrade.statusCode, upgrade.body).toBe(200)
    expect(upgrade.json()).toMatchObject({ plan: 'pro', status: 'active' })

    const more = await app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name: 'Cid' } })
    expect(more.statusCode).toBe(201)
    const seventh = await app.inject({
      method: 'POST',
      url: `${url}/bookings`,
      headers,
      payload: { customer_name: 'C7', starts_at: `${day}T17:00:00+01:00` },
    })
    expect(seventh.statusCode).toBe(201)
  })
})
