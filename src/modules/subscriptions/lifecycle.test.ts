import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  login,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribe,
  subscribedAccount,
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'

interface Invoice {
  amount_cents: number
  currency: string
  status: string
  description: string
  subscription_id: string | null
  period_start: string | null
  period_end: string | null
}

const day = 24 * 60 * 60 * 1000

describe('subscription lifecycle (manual provider)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterEach(() => {
    // Tests that move the clock put it back so the next test starts at the real now.
    t.clock.set(new Date())
  })
  afterAll(async () => {
    await t?.close()
  })

  /**
   * Helpers bound to one account and one user. Access tokens live 15 minutes of clock time, so
   * `moveClock` signs the user in again after moving the clock.
   */
  const client = (user: TestUser, accountId: string) => {
    const session = { headers: bearer(user.token) }
    const url = `/v1/accounts/${accountId}`
    return {
      moveClock: async (to: Date) => {
        t.clock.set(to)
        session.headers = bearer((await login(t.app, user.email, user.password)).token)
      },
      getSubscription: () =>
        t.app.inject({ method: 'GET', url: `${url}/subscription`, headers: session.headers }),
      subscribe: (plan: string) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/subscription`,
          headers: session.headers,
          payload: { plan },
        }),
      change: (plan: string, when?: 'now' | 'period_end') =>
        t.app.inject({
          method: 'PATCH',
          url: `${url}/subscription`,
          headers: session.headers,
          payload: when ? { plan, when } : { plan },
        }),
      cancel: (payload?: { at_period_end: boolean }) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/subscription/cancel`,
          headers: session.headers,
          payload: payload ?? {},
        }),
      resume: () =>
        t.app.inject({ method: 'POST', url: `${url}/subscription/resume`, headers: session.headers }),
      invoices: async (): Promise<Invoice[]> => {
        const res = await t.app.inject({ method: 'GET', url: `${url}/invoices`, headers: session.headers })
        expect(res.statusCode, res.body).toBe(200)
        return res.json().data
      },
      entitlements: async () => {
        const res = await t.app.inject({
          method: 'GET',
          url: `${url}/entitlements`,
          headers: session.headers,
        })
        expect(res.statusCode, res.body).toBe(200)
        return res.json()
      },
      addStaff: (name: string) =>
        t.app.inject({ method: 'POST', url: `${url}/staff`, headers: session.headers, payload: { name } }),
      addBooking: () =>
        t.app.inject({
          method: 'POST',
          url: `${url}/bookings`,
          headers: session.headers,
          payload: { customer_name: 'Client', starts_at: '2030-06-01T10:00:00Z' },
        }),
    }
  }

  const newAccount = async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token)
    return { owner, account, api: client(owner, account.id) }
  }

  describe('subscribe', () => {
    it('starts an active subscription at once and records an open invoice at the plan price', async () => {
      const { account, api } = await newAccount()
      const none = await api.getSubscription()
      expect(problemOf(none)).toMatchObject({ status: 404, code: 'not_found' })

      const now = t.clock.now()
      const res = await api.subscribe('basic')
      expect(res.statusCode, res.body).toBe(201)
      const sub = res.json()
      expect(sub).toMatchObject({
        account_id: account.id,
        plan: 'basic',
        status: 'active',
        has_access: true,
        provider: 'manual',
        cancel_at_period_end: false,
        canceled_at: null,
        ended_at: null,
        pending_plan: null,
        current_period_start: now.toISOString(),
      })
      const end = new Date(sub.current_period_end)
      expect(end.getTime() - now.getTime()).toBeGreaterThanOrEqual(28 * day)
      expect(end.getTime() - now.getTime()).toBeLessThanOrEqual(31 * day)

      expect((await api.getSubscription()).json()).toMatchObject({
        id: sub.id,
        plan: 'basic',
        status: 'active',
      })

      const invoices = await api.invoices()
      expect(invoices).toHaveLength(1)
      expect(invoices[0]).toMatchObject({
        amount_cents: 1900,
        currency: 'usd',
        status: 'open',
        subscription_id: sub.id,
        period_start: sub.current_period_start,
        period_end: sub.current_period_end,
      })
    })

    it('refuses a second subscribe while one is live (409) and records no second invoice', async () => {
      const { api } = await newAccount()
      expect((await api.subscribe('basic')).statusCode).toBe(201)
      const again = await api.subscribe('pro')
      expect(problemOf(again)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await api.getSubscription()).json()).toMatchObject({ plan: 'basic' })
      expect(await api.invoices()).toHaveLength(1)
    })

    it('refuses an unknown plan with 400 validation_failed', async () => {
      const { api } = await newAccount()
      const res = await api.subscribe('no-such-plan')
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(problemOf(await api.getSubscription())).toMatchObject({ status: 404 })
    })

    it('lets only owners and admins subscribe; a plain member gets 403', async () => {
      const { owner, account } = await newAccount()
      const member = await registerAndLogin(t.app)
      await addMember(t, owner.token, account.id, member)
      const res = await client(member, account.id).subscribe('basic')
      expect(problemOf(res)).toMatchObject({ status: 403, code: 'forbidden' })
    })
  })

  describe('change plan', () => {
    it('upgrades now: the plan and its limits change at once and the rest of the period is invoiced pro rata', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      await api.moveClock(new Date(t.clock.now().getTime() + 10 * day))
      const now = t.clock.now()

      const res = await api.change('pro')
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({
        plan: 'pro',
        status: 'active',
        pending_plan: null,
        current_period_start: sub.current_period_start,
        current_period_end: sub.current_period_end,
      })
      expect((await api.entitlements()).features.staff).toMatchObject({ limit: 5 })

      const start = new Date(sub.current_period_start).getTime()
      const end = new Date(sub.current_period_end).getTime()
      const expected = Math.round(3000 * ((end - now.getTime()) / (end - start)))
      const invoices = await api.invoices()
      expect(invoices).toHaveLength(2)
      const proration = invoices.find((invoice) => invoice.description.startsWith('Change'))
      expect(proration).toMatchObject({
        amount_cents: expected,
        status: 'open',
        currency: 'usd',
        period_start: now.toISOString(),
        period_end: sub.current_period_end,
      })
      expect(expected).toBeGreaterThan(0)
      expect(expected).toBeLessThan(3000)
      expect(
        invoices.filter((invoice) => invoice !== proration).map((invoice) => invoice.amount_cents),
      ).toEqual([1900])
    })

    it('invoices the full difference (3000) for an upgrade at the very start of the period', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      expect((await api.change('pro', 'now')).statusCode).toBe(200)
      const amounts = (await api.invoices()).map((invoice) => invoice.amount_cents).sort((a, b) => a - b)
      expect(amounts).toEqual([1900, 3000])
    })

    it('schedules a change for period end: pending_plan is set, the plan and its limits stay, nothing is invoiced', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      const res = await api.change('pro', 'period_end')
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ plan: 'basic', pending_plan: 'pro', status: 'active' })
      expect((await api.getSubscription()).json()).toMatchObject({ plan: 'basic', pending_plan: 'pro' })

      const ent = await api.entitlements()
      expect(ent.plan).toBe('basic')
      expect(ent.features.staff).toMatchObject({ limit: 2 })
      expect(ent.features.bookings_per_day).toMatchObject({ limit: 5 })
      expect(await api.invoices()).toHaveLength(1)
      for (const name of ['Ann', 'Bea']) expect((await api.addStaff(name)).statusCode).toBe(201)
      expect(problemOf(await api.addStaff('Cid'))).toMatchObject({ status: 403, code: 'limit_exceeded' })
    })

    it('clears a scheduled change when the current plan is chosen again', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      await api.change('pro', 'period_end')
      const res = await api.change('basic')
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ plan: 'basic', pending_plan: null })
      expect((await api.getSubscription()).json()).toMatchObject({ plan: 'basic', pending_plan: null })
      expect(await api.invoices()).toHaveLength(1)
    })

    it('refuses to change to the plan already held when nothing is scheduled (409)', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      expect(problemOf(await api.change('basic'))).toMatchObject({ status: 409, code: 'conflict' })
    })

    it('answers 404 for a plan change without a subscription', async () => {
      const { api } = await newAccount()
      expect(problemOf(await api.change('pro'))).toMatchObject({ status: 404, code: 'not_found' })
    })

    it('downgrades now without refund (no invoice) and without deleting anything', async () => {
      const { api } = await newAccount()
      await api.subscribe('pro')
      for (const name of ['Ann', 'Bea', 'Cid']) expect((await api.addStaff(name)).statusCode).toBe(201)
      const res = await api.change('basic', 'now')
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ plan: 'basic' })
      expect((await api.invoices()).map((invoice) => invoice.amount_cents)).toEqual([4900])
      expect((await api.entitlements()).features.staff).toMatchObject({ limit: 2, used: 3, over_limit: true })
    })
  })

  describe('cancel and resume', () => {
    it('cancels at period end: access and creations continue until current_period_end', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      const res = await api.cancel()
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({
        status: 'canceled',
        cancel_at_period_end: true,
        has_access: true,
        current_period_end: sub.current_period_end,
      })
      expect(res.json().canceled_at).toEqual(expect.any(String))
      expect((await api.entitlements()).has_access).toBe(true)

      await api.moveClock(new Date(new Date(sub.current_period_end).getTime() - 60_000))
      expect((await api.getSubscription()).json()).toMatchObject({ status: 'canceled', has_access: true })
      expect((await api.addStaff('Ann')).statusCode).toBe(201)
      expect((await api.addBooking()).statusCode).toBe(201)

      expect(problemOf(await api.cancel())).toMatchObject({ status: 409, code: 'conflict' })
    })

    it('ends access once the clock passes current_period_end, without any sweep, and allows a new subscribe', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      expect((await api.cancel({ at_period_end: true })).statusCode).toBe(200)

      await api.moveClock(new Date(new Date(sub.current_period_end).getTime() + 1000))
      const after = await api.getSubscription()
      expect(after.statusCode).toBe(200)
      expect(after.json()).toMatchObject({ id: sub.id, status: 'expired', has_access: false })

      expect(problemOf(await api.addStaff('Ann'))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
      expect(problemOf(await api.addBooking())).toMatchObject({ status: 403, code: 'subscription_required' })
      const ent = await api.entitlements()
      expect(ent).toMatchObject({ has_access: false })
      expect(ent.status === null || ent.status === 'expired').toBe(true)
      expect(ent.features.staff.remaining).toBe(0)

      const again = await api.subscribe('pro')
      expect(again.statusCode, again.body).toBe(201)
      expect(again.json()).toMatchObject({ plan: 'pro', status: 'active', has_access: true })
      expect(again.json().id).not.toBe(sub.id)
      expect((await api.getSubscription()).json()).toMatchObject({ id: again.json().id, status: 'active' })
      expect((await api.addStaff('Ann')).statusCode).toBe(201)
    })

    it('ends access at period end when no renewal was made (the renewal sweep did not run)', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      await api.moveClock(new Date(new Date(sub.current_period_end).getTime() + 1000))
      expect((await api.getSubscription()).json()).toMatchObject({ status: 'expired', has_access: false })
      expect(problemOf(await api.addStaff('Ann'))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
    })

    it('resumes a subscription canceled at period end, before the period ends', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      await api.cancel()
      await api.moveClock(new Date(t.clock.now().getTime() + 5 * day))
      const res = await api.resume()
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({
        status: 'active',
        cancel_at_period_end: false,
        canceled_at: null,
        has_access: true,
        current_period_end: sub.current_period_end,
      })
      expect((await api.getSubscription()).json()).toMatchObject({ status: 'active' })
    })

    it('refuses to resume a subscription that is not canceled (409)', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      expect(problemOf(await api.resume())).toMatchObject({ status: 409, code: 'conflict' })
    })

    it('refuses to resume once the period is over (409)', async () => {
      const { api } = await newAccount()
      const sub = (await api.subscribe('basic')).json()
      await api.cancel()
      await api.moveClock(new Date(new Date(sub.current_period_end).getTime() + 1000))
      const res = await api.resume()
      expect(problemOf(res)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await api.getSubscription()).json()).toMatchObject({ has_access: false })
    })

    it('cancels immediately: access ends at once and a new subscribe is possible', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      expect((await api.addStaff('Ann')).statusCode).toBe(201)

      const res = await api.cancel({ at_period_end: false })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ has_access: false, cancel_at_period_end: false })
      // PRODUCT.md §4: `canceled` is "will end or has ended"; a lapsed period reads `expired`.
      expect(res.json().status).toBe('canceled')
      expect(res.json().ended_at).toEqual(expect.any(String))

      expect((await api.getSubscription()).json()).toMatchObject({ has_access: false })
      expect(problemOf(await api.addStaff('Bea'))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
      expect((await api.entitlements()).has_access).toBe(false)
      expect(problemOf(await api.resume())).toMatchObject({ status: 409, code: 'conflict' })

      const again = await api.subscribe('basic')
      expect(again.statusCode, again.body).toBe(201)
      expect((await api.addStaff('Bea')).statusCode).toBe(201)
    })

    it('refuses a plan change while canceled (409) until resumed', async () => {
      const { api } = await newAccount()
      await api.subscribe('basic')
      await api.cancel()
      expect(problemOf(await api.change('pro'))).toMatchObject({ status: 409, code: 'conflict' })
      await api.resume()
      expect((await api.change('pro')).statusCode).toBe(200)
    })
  })

  describe('retired plans', () => {
    it('keeps a retired plan for its existing subscribers and refuses it to new ones (400)', async () => {
      const admin = await loginAdmin(t.app)
      const code = uniqueCode('legacy')
      const created = await t.app.inject({
        method: 'POST',
        url: '/v1/plans',
        headers: bearer(admin),
        payload: { code, name: 'Legacy', price_cents: 1500, limits: { staff: 1, bookings_per_day: 2 } },
      })
      expect(created.statusCode, created.body).toBe(201)
      const { owner, account } = await subscribedAccount(t.app, code)
      const api = client(owner, account.id)

      const retired = await t.app.inject({
        method: 'DELETE',
        url: `/v1/plans/${code}`,
        headers: bearer(admin),
      })
      expect(retired.statusCode).toBe(204)

      expect((await api.getSubscription()).json()).toMatchObject({
        plan: code,
        status: 'active',
        has_access: true,
      })
      const ent = await api.entitlements()
      expect(ent).toMatchObject({ plan: code, has_access: true })
      expect(ent.features.staff).toMatchObject({ limit: 1 })
      expect((await api.addStaff('Ann')).statusCode).toBe(201)

      const newcomer = await newAccount()
      const refused = await newcomer.api.subscribe(code)
      expect(problemOf(refused)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(problemOf(await newcomer.api.getSubscription())).toMatchObject({ status: 404 })

      // Nor can a current subscriber move onto it from another plan.
      const other = await newAccount()
      await subscribe(t.app, other.owner.token, other.account.id, 'basic')
      expect(problemOf(await other.api.change(code))).toMatchObject({
        status: 400,
        code: 'validation_failed',
      })
    })
  })
})

describe('cancel without a body', () => {
  it('cancels at period end by default when the request has no body', async () => {
    const t = await buildTestApp()
    try {
      const { owner, account } = await subscribedAccount(t.app)
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/subscription/cancel`,
        headers: bearer(owner.token),
      })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ status: 'canceled', cancel_at_period_end: true, has_access: true })
    } finally {
      await t.close()
    }
  })
})
