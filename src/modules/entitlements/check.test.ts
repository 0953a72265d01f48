// POST /v1/accounts/{id}/check: "would this be allowed?" for any feature, answered from the same
// figures as the entitlements (current account-local period) and consuming nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribe,
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'
import { expectData, testClient } from '../../../test/helpers/client.ts'

describe('feature check', () => {
  let t: TestApp
  let adminToken: string
  /** A plan with every kind of feature: count, per day, per month, unlimited, and two flags. */
  let planCode: string
  /** A flag that only another plan names. */
  let otherFlag: string

  beforeAll(async () => {
    t = await buildTestApp()
    adminToken = await loginAdmin(t.app)
    planCode = uniqueCode('check')
    otherFlag = `other_flag_${Date.now().toString(36)}`
    const plans = [
      {
        code: planCode,
        name: 'Check',
        price_cents: 1900,
        limits: { staff: 2, bookings_per_day: 5, api_calls_per_month: 10, exports: null },
        features: { sms_reminders: true, white_label: false },
      },
      { code: uniqueCode('check-other'), name: 'Other', price_cents: 0, features: { [otherFlag]: true } },
    ]
    for (const payload of plans) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/plans',
        headers: bearer(adminToken),
        payload,
      })
      expect(res.statusCode, res.body).toBe(201)
    }
  })
  afterEach(() => {
    t.clock.set(new Date())
  })
  afterAll(async () => {
    await t?.close()
  })

  /** Requests on one account as one user. */
  const client = (user: { token: string }, accountId: string) => {
    const headers = bearer(user.token)
    const url = `/v1/accounts/${accountId}`
    const api = testClient(t.app, user.token)
    return {
      check: (payload: Record<string, unknown>) =>
        t.app.inject({ method: 'POST', url: `${url}/check`, headers, payload }),
      addStaff: (name: string) =>
        t.app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name } }),
      book: (startsAt: string) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/bookings`,
          headers,
          payload: { customer_name: 'Client', starts_at: startsAt },
        }),
      usage: (feature: string, quantity: number) =>
        t.app.inject({ method: 'POST', url: `${url}/usage`, headers, payload: { feature, quantity } }),
      entitlements: () =>
        expectData(
          api.GET('/v1/accounts/{accountId}/entitlements', { params: { path: { accountId } } }),
          200,
        ),
    }
  }

  /** An owner and an account (optionally in a time zone), subscribed to the check plan unless `plan` is null. */
  const setup = async (plan: string | null = planCode, timezone?: string) => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, timezone ? { timezone } : {})
    if (plan) await subscribe(t.app, owner.token, account.id, plan)
    return { owner, account, api: client(owner, account.id) }
  }

  /** The answer of a check that must succeed. */
  const checked = async (api: ReturnType<typeof client>, payload: Record<string, unknown>) => {
    const res = await api.check(payload)
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  }

  it('checks a count feature (staff) against the live staff, quantity 1 by default', async () => {
    const { api } = await setup()
    expect((await api.addStaff('Ann')).statusCode).toBe(201)
    expect(await checked(api, { feature: 'staff' })).toEqual({
      allowed: true,
      feature: 'staff',
      limit: 2,
      used: 1,
      remaining: 1,
    })
    expect(await checked(api, { feature: 'staff', quantity: 2 })).toEqual({
      allowed: false,
      feature: 'staff',
      limit: 2,
      used: 1,
      remaining: 1,
    })
    expect((await api.addStaff('Bea')).statusCode).toBe(201)
    expect(await checked(api, { feature: 'staff' })).toMatchObject({ allowed: false, used: 2, remaining: 0 })
  })

  it("checks bookings_per_day on today's date in the account's time zone, not the UTC date", async () => {
    // 03:00 UTC on Jan 16 is still Jan 15 (22:00) in New York.
    t.clock.set(new Date('2030-01-16T03:00:00Z'))
    const { api } = await setup(planCode, 'America/New_York')
    for (const startsAt of [
      '2030-01-15T10:00:00-05:00',
      '2030-01-15T11:00:00-05:00',
      '2030-01-15T23:30:00-05:00',
    ])
      expect((await api.book(startsAt)).statusCode).toBe(201)
    // Jan 16 in New York (the UTC date of now) is another day: it does not count today.
    expect((await api.book('2030-01-16T10:00:00-05:00')).statusCode).toBe(201)

    expect(await checked(api, { feature: 'bookings_per_day' })).toEqual({
      allowed: true,
      feature: 'bookings_per_day',
      limit: 5,
      used: 3,
      remaining: 2,
    })
    expect(await checked(api, { feature: 'bookings_per_day', quantity: 2 })).toMatchObject({ allowed: true })
    expect(await checked(api, { feature: 'bookings_per_day', quantity: 3 })).toEqual({
      allowed: false,
      feature: 'bookings_per_day',
      limit: 5,
      used: 3,
      remaining: 2,
    })
    // The same figures as the entitlements of today.
    expect((await api.entitlements()).features.bookings_per_day).toMatchObject({
      date: '2030-01-15',
      used: 3,
      remaining: 2,
    })
  })

  it('checks bookings_per_day on a given local day, agreeing with the booking that follows', async () => {
    t.clock.set(new Date('2030-02-01T12:00:00Z'))
    const { api } = await setup(planCode, 'Europe/Paris')
    for (let i = 0; i < 5; i++)
      expect((await api.book(`2030-03-01T0${i + 1}:00:00+01:00`)).statusCode).toBe(201)
    // Today is empty, March 1 is full: the check of that day says no, as the booking does.
    expect(await checked(api, { feature: 'bookings_per_day' })).toMatchObject({ allowed: true, used: 0 })
    expect(await checked(api, { feature: 'bookings_per_day', date: '2030-03-01' })).toEqual({
      allowed: false,
      feature: 'bookings_per_day',
      limit: 5,
      used: 5,
      remaining: 0,
    })
    expect((await api.book('2030-03-01T18:00:00+01:00')).statusCode).toBe(403)
    expect(await checked(api, { feature: 'bookings_per_day', date: '2030-03-02' })).toMatchObject({
      allowed: true,
      used: 0,
      remaining: 5,
    })
    expect((await api.book('2030-03-02T09:00:00+01:00')).statusCode).toBe(201)
    // A monthly limit counts the month of the day; a count ignores the day.
    expect((await api.usage('api_calls_per_month', 4)).statusCode).toBe(200)
    expect(await checked(api, { feature: 'api_calls_per_month', date: '2030-02-20' })).toMatchObject({
      used: 4,
    })
    expect(await checked(api, { feature: 'api_calls_per_month', date: '2030-03-20' })).toMatchObject({
      used: 0,
    })
    expect(await checked(api, { feature: 'staff', date: '2030-03-20' })).toMatchObject({
      used: 0,
      allowed: true,
    })
    const bad = await api.check({ feature: 'bookings_per_day', date: '2030-02-30' })
    expect(bad.statusCode).toBe(400)
  })

  it('checks a metered per-month feature, and an unlimited one', async () => {
    const { api } = await setup()
    expect((await api.usage('api_calls_per_month', 4)).statusCode).toBe(200)
    expect(await checked(api, { feature: 'api_calls_per_month', quantity: 6 })).toEqual({
      allowed: true,
      feature: 'api_calls_per_month',
      limit: 10,
      used: 4,
      remaining: 6,
    })
    expect(await checked(api, { feature: 'api_calls_per_month', quantity: 7 })).toMatchObject({
      allowed: false,
      used: 4,
      remaining: 6,
    })
    expect(await checked(api, { feature: 'exports', quantity: 1_000_000 })).toEqual({
      allowed: true,
      feature: 'exports',
      limit: null,
      used: 0,
      remaining: null,
    })
  })

  it('consumes nothing: the entitlements and the next consume are the same after any number of checks', async () => {
    const { api } = await setup()
    expect((await api.addStaff('Ann')).statusCode).toBe(201)
    expect((await api.usage('api_calls_per_month', 9)).statusCode).toBe(200)
    const before = await api.entitlements()
    for (let i = 0; i < 3; i++) {
      for (const feature of ['staff', 'bookings_per_day', 'api_calls_per_month', 'exports', 'sms_reminders'])
        await checked(api, { feature, quantity: 1 })
    }
    expect(await api.entitlements()).toEqual(before)
    // The one unit left is still there to take.
    expect((await api.usage('api_calls_per_month', 1)).json()).toMatchObject({ used: 10, remaining: 0 })
    expect(problemOf(await api.usage('api_calls_per_month', 1))).toMatchObject({ code: 'limit_exceeded' })
  })

  it("answers a flag with its value in the account's plan, and null figures", async () => {
    const { api } = await setup()
    expect(await checked(api, { feature: 'sms_reminders' })).toEqual({
      allowed: true,
      feature: 'sms_reminders',
      limit: null,
      used: null,
      remaining: null,
    })
    expect(await checked(api, { feature: 'white_label', quantity: 5 })).toEqual({
      allowed: false,
      feature: 'white_label',
      limit: null,
      used: null,
      remaining: null,
    })
    // Known from another plan, absent from this one: off.
    expect(await checked(api, { feature: otherFlag })).toMatchObject({ allowed: false, limit: null })
  })

  it('gives a known feature the plan lacks limit 0, and an unknown one 404 unknown_feature', async () => {
    const { api } = await setup('basic')
    expect(await checked(api, { feature: 'api_calls_per_month' })).toEqual({
      allowed: false,
      feature: 'api_calls_per_month',
      limit: 0,
      used: 0,
      remaining: 0,
    })
    const unknown = await api.check({ feature: 'video_minutes_per_month' })
    expect(problemOf(unknown)).toMatchObject({ status: 404, code: 'unknown_feature' })
    expect(unknown.json()).toMatchObject({ feature: 'video_minutes_per_month' })
  })

  it('answers allowed false and remaining 0 without a subscription that grants access', async () => {
    const { api } = await setup(null)
    expect(await checked(api, { feature: 'staff' })).toEqual({
      allowed: false,
      feature: 'staff',
      limit: 0,
      used: 0,
      remaining: 0,
    })
    expect(await checked(api, { feature: 'bookings_per_day' })).toMatchObject({
      allowed: false,
      remaining: 0,
    })
    expect(await checked(api, { feature: 'api_calls_per_month' })).toMatchObject({
      allowed: false,
      remaining: 0,
    })
    expect(await checked(api, { feature: 'sms_reminders' })).toMatchObject({ allowed: false })
    expect(problemOf(await api.check({ feature: 'no_such_feature' }))).toMatchObject({
      code: 'unknown_feature',
    })
  })

  it('lets members and site admins check; a stranger gets 404, no token 401, bad input 400', async () => {
    const { owner, account, api } = await setup()
    const member = await registerAndLogin(t.app)
    await addMember(t, owner.token, account.id, member)
    expect(await checked(client(member, account.id), { feature: 'staff' })).toMatchObject({ allowed: true })
    expect(await checked(client({ token: adminToken }, account.id), { feature: 'staff' })).toMatchObject({
      allowed: true,
    })

    const stranger: TestUser = await registerAndLogin(t.app)
    const foreign = await client(stranger, account.id).check({ feature: 'staff' })
    expect(problemOf(foreign)).toMatchObject({ status: 404, code: 'not_found' })
    // Even for an unknown feature: the account is not revealed.
    const foreignUnknown = await client(stranger, account.id).check({ feature: 'no_such_feature' })
    expect(problemOf(foreignUnknown)).toMatchObject({ status: 404, code: 'not_found' })
    const missing = await client(owner, '00000000-0000-7000-8000-000000000000').check({ feature: 'staff' })
    expect(problemOf(missing)).toMatchObject({ status: 404, code: 'not_found' })
    const anonymous = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${account.id}/check`,
      payload: { feature: 'staff' },
    })
    expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })

    for (const payload of [
      { feature: 'staff', quantity: 0 },
      { feature: 'staff', quantity: -1 },
      { feature: 'staff', quantity: 1.5 },
      { feature: 'Staff' },
      { quantity: 1 },
    ]) {
      expect(problemOf(await api.check(payload)), JSON.stringify(payload)).toMatchObject({
        status: 400,
        code: 'validation_failed',
      })
    }
  })
})
