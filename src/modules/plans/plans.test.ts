import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribe,
  type TestApp,
  uniqueCode,
} from '../../../test/helpers/app.ts'

interface Plan {
  code: string
  price_cents: number
  is_active: boolean
  limits: Record<string, number | null>
}

describe('plans', () => {
  let t: TestApp
  let admin: string
  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const createPlan = (payload: Record<string, unknown>, token = admin) =>
    t.app.inject({ method: 'POST', url: '/v1/plans', headers: bearer(token), payload })

  const patchPlan = (code: string, payload: Record<string, unknown>, token = admin) =>
    t.app.inject({ method: 'PATCH', url: `/v1/plans/${code}`, headers: bearer(token), payload })

  const retirePlan = (code: string, token = admin) =>
    t.app.inject({ method: 'DELETE', url: `/v1/plans/${code}`, headers: bearer(token) })

  const publicPlans = async (): Promise<Plan[]> => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/plans' })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data
  }

  describe('public reads', () => {
    it('lists the seeded basic and pro plans to anyone, without a token', async () => {
      const plans = await publicPlans()
      const basic = plans.find((plan) => plan.code === 'basic')
      const pro = plans.find((plan) => plan.code === 'pro')
      expect(basic).toMatchObject({
        price_cents: 1900,
        currency: 'usd',
        interval: 'month',
        limits: { staff: 2, bookings_per_day: 5 },
        is_active: true,
      })
      expect(pro).toMatchObject({
        price_cents: 4900,
        limits: { staff: 5, bookings_per_day: 20 },
        is_active: true,
      })
    })

    it('lists only active plans, ordered by price', async () => {
      const cheap = uniqueCode('cheap')
      const pricey = uniqueCode('pricey')
      const retired = uniqueCode('retired')
      for (const [code, price] of [
        [pricey, 9900],
        [cheap, 100],
        [retired, 500],
      ] as const) {
        expect((await createPlan({ code, name: code, price_cents: price })).statusCode).toBe(201)
      }
      expect((await retirePlan(retired)).statusCode).toBe(204)

      const plans = await publicPlans()
      const codes = plans.map((plan) => plan.code)
      expect(codes).toContain(cheap)
      expect(codes).toContain(pricey)
      expect(codes).not.toContain(retired)
      expect(plans.every((plan) => plan.is_active)).toBe(true)
      const prices = plans.map((plan) => plan.price_cents)
      expect(prices).toEqual([...prices].sort((a, b) => a - b))
      expect(codes.indexOf(cheap)).toBeLessThan(codes.indexOf('basic'))
      expect(codes.indexOf('basic')).toBeLessThan(codes.indexOf('pro'))
      expect(codes.indexOf('pro')).toBeLessThan(codes.indexOf(pricey))
    })

    it('returns one plan by code, a retired one with is_active false, and 404 for an unknown code', async () => {
      const basic = await t.app.inject({ method: 'GET', url: '/v1/plans/basic' })
      expect(basic.statusCode).toBe(200)
      expect(basic.json()).toMatchObject({ code: 'basic', is_active: true })

      const code = uniqueCode('gone')
      await createPlan({ code, name: 'Gone', price_cents: 700 })
      await retirePlan(code)
      const retired = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
      expect(retired.statusCode).toBe(200)
      expect(retired.json()).toMatchObject({ code, is_active: false })

      const unknown = await t.app.inject({ method: 'GET', url: '/v1/plans/no-such-plan' })
      expect(problemOf(unknown)).toMatchObject({ status: 404, code: 'not_found' })
      const malformed = await t.app.inject({ method: 'GET', url: '/v1/plans/Not%20A%20Slug' })
      expect(problemOf(malformed)).toMatchObject({ status: 400, code: 'validation_failed' })
    })

    it('lists retired plans with include_inactive=true only for a site admin (401 anonymous, 403 user)', async () => {
      const code = uniqueCode('hidden')
      await createPlan({ code, name: 'Hidden', price_cents: 300 })
      await retirePlan(code)

      const anonymous = await t.app.inject({ method: 'GET', url: '/v1/plans?include_inactive=true' })
      expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })

      const user = await registerAndLogin(t.app)
      const asUser = await t.app.inject({
        method: 'GET',
        url: '/v1/plans?include_inactive=true',
        headers: bearer(user.token),
      })
      expect(problemOf(asUser)).toMatchObject({ status: 403, code: 'forbidden' })

      const asAdmin = await t.app.inject({
        method: 'GET',
        url: '/v1/plans?include_inactive=true',
        headers: bearer(admin),
      })
      expect(asAdmin.statusCode, asAdmin.body).toBe(200)
      const plans: Plan[] = asAdmin.json().data
      expect(plans.find((plan) => plan.code === code)).toMatchObject({ is_active: false })
      expect(plans.find((plan) => plan.code === 'basic')).toMatchObject({ is_active: true })
    })

    it('lists retired plans with include_inactive=true to a site key with plans:write, and refuses a key without it naming the scope', async () => {
      const code = uniqueCode('hidden-key')
      await createPlan({ code, name: 'Hidden', price_cents: 300 })
      await retirePlan(code)
      const makeKey = async (scopes: string[]) => {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/admin/api-keys',
          headers: bearer(admin),
          payload: { name: 'plans list', scopes },
        })
        expect(res.statusCode, res.body).toBe(201)
        return res.json().key as string
      }

      const writer = await t.app.inject({
        method: 'GET',
        url: '/v1/plans?include_inactive=true',
        headers: bearer(await makeKey(['plans:write'])),
      })
      expect(writer.statusCode, writer.body).toBe(200)
      expect((writer.json().data as Plan[]).find((plan) => plan.code === code)).toMatchObject({
        is_active: false,
      })

      const reader = await t.app.inject({
        method: 'GET',
        url: '/v1/plans?include_inactive=true',
        headers: bearer(await makeKey(['accounts:read'])),
      })
      expect(problemOf(reader)).toMatchObject({ status: 403, code: 'forbidden' })
      expect(problemOf(reader).body.detail).toContain('plans:write')

      // Without include_inactive a key (any key) reads the public list like anyone.
      const plain = await t.app.inject({
        method: 'GET',
        url: '/v1/plans',
        headers: bearer(await makeKey(['accounts:read'])),
      })
      expect(plain.statusCode, plain.body).toBe(200)
      expect((plain.json().data as Plan[]).some((plan) => plan.code === code)).toBe(false)
    })
  })

  describe('admin writes', () => {
    it('creates a plan (201) with defaults filled in, and it becomes publicly readable', async () => {
      const code = uniqueCode('gold')
      const res = await createPlan({
        code,
        name: 'Gold',
        price_cents: 2500,
        currency: 'EUR',
        limits: { staff: 10, bookings_per_day: null, exports_per_month: 3 },
        features: { sms_reminders: true },
      })
      expect(res.statusCode, res.body).toBe(201)
      expect(res.json()).toEqual({
        code,
        name: 'Gold',
        description: '',
        price_cents: 2500,
        currency: 'eur',
        interval: 'month',
        tier: 0,
        trial_days: 0,
        limits: { staff: 10, bookings_per_day: null, exports_per_month: 3 },
        features: { sms_reminders: true },
        is_active: true,
      })
      const read = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
      expect(read.json()).toEqual(res.json())
    })

    it('refuses a duplicate code with 409 and leaves the first plan unchanged', async () => {
      const code = uniqueCode('dup')
      expect((await createPlan({ code, name: 'First', price_cents: 100 })).statusCode).toBe(201)
      const again = await createPlan({ code, name: 'Second', price_cents: 200 })
      expect(problemOf(again)).toMatchObject({ status: 409, code: 'conflict' })
      const read = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
      expect(read.json()).toMatchObject({ name: 'First', price_cents: 100 })
    })

    it.each([
      ['a negative limit', { staff: -1 }],
      ['a non-integer limit', { staff: 1.5 }],
      ['a string limit', { staff: '2' }],
      ['an upper-case key', { Staff: 2 }],
      ['a key with a dash', { 'bookings-per-day': 2 }],
      ['a key starting with a digit', { '1staff': 2 }],
    ])('refuses %s with 400 validation_failed', async (_label, limits) => {
      const code = uniqueCode('bad')
      const res = await createPlan({ code, name: 'Bad', price_cents: 100, limits })
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      const read = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
      expect(read.statusCode).toBe(404)
    })

    it('refuses other invalid plans with 400 (bad code, negative price, bad interval, bad currency)', async () => {
      for (const payload of [
        { code: 'Has Spaces', name: 'X', price_cents: 1 },
        { code: uniqueCode(), name: 'X', price_cents: -1 },
        { code: uniqueCode(), name: 'X', price_cents: 1, interval: 'week' },
        { code: uniqueCode(), name: 'X', price_cents: 1, currency: 'dollars' },
        { code: uniqueCode(), price_cents: 1 },
      ]) {
        const res = await createPlan(payload)
        expect(problemOf(res), JSON.stringify(payload)).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
    })

    it('allows plan writes only to site admins (401 without a token, 403 for a user)', async () => {
      const user = await registerAndLogin(t.app)
      const code = uniqueCode('nope')
      const anonymous = await t.app.inject({
        method: 'POST',
        url: '/v1/plans',
        payload: { code, name: 'X', price_cents: 1 },
      })
      expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })
      expect(problemOf(await createPlan({ code, name: 'X', price_cents: 1 }, user.token))).toMatchObject({
        status: 403,
        code: 'forbidden',
      })
      expect(problemOf(await patchPlan('basic', { price_cents: 1 }, user.token))).toMatchObject({
        status: 403,
        code: 'forbidden',
      })
      expect(problemOf(await retirePlan('basic', user.token))).toMatchObject({
        status: 403,
        code: 'forbidden',
      })
      const basic = await t.app.inject({ method: 'GET', url: '/v1/plans/basic' })
      expect(basic.json()).toMatchObject({ price_cents: 1900, is_active: true })
      expect((await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })).statusCode).toBe(404)
    })

    it('updates only the fields given: the price alone, then the limits alone', async () => {
      const code = uniqueCode('edit')
      const created = await createPlan({
        code,
        name: 'Edit me',
        description: 'Original',
        price_cents: 1000,
        tier: 3,
        limits: { staff: 2, bookings_per_day: 5 },
      })
      expect(created.statusCode).toBe(201)

      const priced = await patchPlan(code, { price_cents: 1500 })
      expect(priced.statusCode, priced.body).toBe(200)
      expect(priced.json()).toEqual({ ...created.json(), price_cents: 1500 })

      const limited = await patchPlan(code, { limits: { staff: 4, bookings_per_day: null } })
      expect(limited.statusCode, limited.body).toBe(200)
      expect(limited.json()).toEqual({
        ...created.json(),
        price_cents: 1500,
        limits: { staff: 4, bookings_per_day: null },
      })
      const read = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
      expect(read.json()).toEqual(limited.json())
    })

    it('refuses invalid updates (bad limits, unknown fields, a new code) and 404s an unknown plan', async () => {
      const code = uniqueCode('strict')
      await createPlan({ code, name: 'Strict', price_cents: 100, limits: { staff: 1 } })
      for (const payload of [
        { limits: { staff: -5 } },
        { limits: { staff: 0.5 } },
        { code: 'other' },
        { color: 'red' },
      ]) {
        const res = await patchPlan(code, payload)
        expect(problemOf(res), JSON.stringify(payload)).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
      expect((await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })).json()).toMatchObject({
        limits: { staff: 1 },
      })
      expect(problemOf(await patchPlan('no-such-plan', { price_cents: 1 }))).toMatchObject({
        status: 404,
        code: 'not_found',
      })
      expect(problemOf(await retirePlan('no-such-plan'))).toMatchObject({ status: 404, code: 'not_found' })
    })

    it('retires a plan softly and brings it back with is_active: true', async () => {
      const code = uniqueCode('phoenix')
      await createPlan({ code, name: 'Phoenix', price_cents: 1234 })
      expect((await retirePlan(code)).statusCode).toBe(204)
      expect((await publicPlans()).map((plan) => plan.code)).not.toContain(code)

      const back = await patchPlan(code, { is_active: true })
      expect(back.statusCode, back.body).toBe(200)
      expect(back.json()).toMatchObject({ code, is_active: true, price_cents: 1234 })
      expect((await publicPlans()).map((plan) => plan.code)).toContain(code)

      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token)
      const sub = await subscribe(t.app, owner.token, account.id, code)
      expect(sub).toMatchObject({ plan: code, status: 'active' })
    })
  })

  describe('limits are data', () => {
    it('applies a lowered limit to current subscribers at once, deleting nothing, and a raised one too', async () => {
      const code = uniqueCode('shrink')
      await createPlan({ code, name: 'Shrink', price_cents: 900, limits: { staff: 3, bookings_per_day: 5 } })
      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token)
      await subscribe(t.app, owner.token, account.id, code)
      const headers = bearer(owner.token)
      const url = `/v1/accounts/${account.id}`
      for (const name of ['Ann', 'Bea', 'Cid']) {
        const res = await t.app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name } })
        expect(res.statusCode, res.body).toBe(201)
      }

      expect((await patchPlan(code, { limits: { staff: 1, bookings_per_day: 5 } })).statusCode).toBe(200)

      const ent = await t.app.inject({ method: 'GET', url: `${url}/entitlements`, headers })
      expect(ent.json().features.staff).toEqual({
        kind: 'count',
        limit: 1,
        used: 3,
        remaining: 0,
        over_limit: true,
      })
      const refused = await t.app.inject({
        method: 'POST',
        url: `${url}/staff`,
        headers,
        payload: { name: 'Dee' },
      })
      expect(problemOf(refused)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(refused.json()).toMatchObject({ feature: 'staff', limit: 1, used: 3 })
      const staff = await t.app.inject({ method: 'GET', url: `${url}/staff`, headers })
      expect(staff.json().data).toHaveLength(3)

      expect((await patchPlan(code, { limits: { staff: 4, bookings_per_day: 5 } })).statusCode).toBe(200)
      const allowed = await t.app.inject({
        method: 'POST',
        url: `${url}/staff`,
        headers,
        payload: { name: 'Dee' },
      })
      expect(allowed.statusCode, allowed.body).toBe(201)
      const after = await t.app.inject({ method: 'GET', url: `${url}/entitlements`, headers })
      expect(after.json().features.staff).toMatchObject({
        limit: 4,
        used: 4,
        remaining: 0,
        over_limit: false,
      })
    })
  })
})
