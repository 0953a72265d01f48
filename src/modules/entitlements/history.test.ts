// GET /v1/accounts/{id}/usage/history: a per-day or per-month limit over a range of account-local
// periods, one entry per period with zeros included, beside the current plan's limit.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
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
import { expectData, testClient } from '../../../test/helpers/client.ts'

describe('usage history', () => {
  let t: TestApp
  let adminToken: string
  /** A plan with a limit of every kind, an unlimited per-day one and a flag. */
  let planCode: string
  /** A per-day key only another plan names: known, but not in the account's plan. */
  let otherPerDay: string

  beforeAll(async () => {
    t = await buildTestApp()
    adminToken = await loginAdmin(t.app)
    planCode = uniqueCode('history')
    otherPerDay = `other_${Date.now().toString(36)}_per_day`
    const plans = [
      {
        code: planCode,
        name: 'History',
        price_cents: 1900,
        limits: {
          staff: 2,
          bookings_per_day: 5,
          exports_per_day: 10,
          api_calls_per_month: 1000,
          imports_per_day: null,
        },
        features: { sms_reminders: true },
      },
      { code: uniqueCode('history-other'), name: 'Other', price_cents: 0, limits: { [otherPerDay]: 3 } },
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

  /** An owner and an account (optionally in a time zone), subscribed to the history plan unless `plan` is null. */
  const setup = async (plan: string | null = planCode, timezone?: string) => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, timezone ? { timezone } : {})
    if (plan) await subscribe(t.app, owner.token, account.id, plan)
    const headers = bearer(owner.token)
    const url = `/v1/accounts/${account.id}`
    return {
      owner,
      accountId: account.id,
      history: (query: string) =>
        t.app.inject({ method: 'GET', url: `${url}/usage/history?${query}`, headers }),
      usage: (feature: string, quantity: number, date?: string) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/usage`,
          headers,
          payload: { feature, quantity, ...(date && { date }) },
        }),
      book: (startsAt: string) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/bookings`,
          headers,
          payload: { customer_name: 'Client', starts_at: startsAt },
        }),
    }
  }

  const historyOf = async (res: Awaited<ReturnType<Awaited<ReturnType<typeof setup>>['history']>>) => {
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  }

  it('charts bookings per day over a range against the daily limit, zeros included', async () => {
    t.clock.set(new Date('2030-05-01T09:00:00Z'))
    const { history, book } = await setup()
    for (const startsAt of ['2030-05-03T10:00:00Z', '2030-05-03T11:00:00Z', '2030-05-05T10:00:00Z'])
      expect((await book(startsAt)).statusCode).toBe(201)
    expect(await historyOf(await history('feature=bookings_per_day&from=2030-05-02&to=2030-05-06'))).toEqual({
      feature: 'bookings_per_day',
      period_kind: 'day',
      from: '2030-05-02',
      to: '2030-05-06',
      limit: 5,
      data: [
        { period: '2030-05-02', used: 0 },
        { period: '2030-05-03', used: 2 },
        { period: '2030-05-04', used: 0 },
        { period: '2030-05-05', used: 1 },
        { period: '2030-05-06', used: 0 },
      ],
    })
  })

  it("defaults to the 30 account-local days up to today in the account's time zone", async () => {
    // 23:30 UTC on March 10 is already March 11 (12:30) in Auckland.
    t.clock.set(new Date('2030-03-10T23:30:00Z'))
    const { history, usage } = await setup(planCode, 'Pacific/Auckland')
    expect((await usage('exports_per_day', 4)).statusCode).toBe(200)
    expect((await usage('exports_per_day', 2, '2030-02-10')).statusCode).toBe(200)
    expect((await usage('exports_per_day', 1, '2030-02-09')).statusCode).toBe(200)
    const answer = await historyOf(await history('feature=exports_per_day'))
    expect(answer).toMatchObject({ period_kind: 'day', from: '2030-02-10', to: '2030-03-11', limit: 10 })
    expect(answer.data).toHaveLength(30)
    expect(answer.data[0]).toEqual({ period: '2030-02-10', used: 2 })
    expect(answer.data.at(-1)).toEqual({ period: '2030-03-11', used: 4 })
    // Every day in between is there, once, in order; the day before the range is not counted.
    const periods = answer.data.map((entry: { period: string }) => entry.period)
    expect(new Set(periods).size).toBe(30)
    expect([...periods].sort()).toEqual(periods)
    expect(answer.data.reduce((sum: number, entry: { used: number }) => sum + entry.used, 0)).toBe(6)
  })

  it('answers the months of a monthly limit, the last 12 by default', async () => {
    t.clock.set(new Date('2030-02-15T12:00:00Z'))
    const { history, usage } = await setup()
    expect((await usage('api_calls_per_month', 40)).statusCode).toBe(200)
    expect((await usage('api_calls_per_month', 7, '2029-03-31')).statusCode).toBe(200)
    expect((await usage('api_calls_per_month', 9, '2029-02-28')).statusCode).toBe(200)
    const answer = await historyOf(await history('feature=api_calls_per_month'))
    expect(answer).toMatchObject({ period_kind: 'month', from: '2029-03', to: '2030-02', limit: 1000 })
    expect(answer.data).toHaveLength(12)
    expect(answer.data[0]).toEqual({ period: '2029-03', used: 7 })
    expect(answer.data[10]).toEqual({ period: '2030-01', used: 0 })
    expect(answer.data[11]).toEqual({ period: '2030-02', used: 40 })
    // Days given for a monthly limit name their months.
    expect(
      await historyOf(await history('feature=api_calls_per_month&from=2029-02-01&to=2029-03-05')),
    ).toMatchObject({
      from: '2029-02',
      to: '2029-03',
      data: [
        { period: '2029-02', used: 9 },
        { period: '2029-03', used: 7 },
      ],
    })
  })

  it('answers null for an unlimited feature, 0 for one the plan lacks and without a live subscription', async () => {
    const { history } = await setup()
    expect(await historyOf(await history('feature=imports_per_day'))).toMatchObject({ limit: null })
    expect(await historyOf(await history(`feature=${otherPerDay}`))).toMatchObject({ limit: 0 })
    const unsubscribed = await setup(null)
    const answer = await historyOf(await unsubscribed.history('feature=bookings_per_day'))
    expect(answer.limit).toBe(0)
    expect(answer.data).toHaveLength(30)
  })

  it('takes a range of up to 366 periods, and refuses a reversed or longer one (400)', async () => {
    t.clock.set(new Date('2030-06-01T12:00:00Z'))
    const { history } = await setup()
    const year = await historyOf(await history('feature=exports_per_day&from=2028-01-01&to=2028-12-31'))
    expect(year.data).toHaveLength(366)
    for (const query of [
      'feature=exports_per_day&from=2030-05-02&to=2030-05-01',
      'feature=exports_per_day&from=2028-01-01&to=2029-01-01',
      'feature=api_calls_per_month&from=1990-01-01&to=2030-12-31',
      'feature=exports_per_day&from=2031-01-01',
      'feature=exports_per_day&from=2030-02-30',
    ]) {
      const res = await history(query)
      expect(problemOf(res), query).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })

  it('refuses a live count (staff) and a flag with 400 no_usage_history, and an unknown key with 404 unknown_feature', async () => {
    const { history } = await setup()
    for (const feature of ['staff', 'sms_reminders']) {
      const res = await history(`feature=${feature}`)
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'no_usage_history' })
      expect(res.json().feature).toBe(feature)
    }
    const unknown = await history('feature=nobody_names_this_per_day')
    expect(problemOf(unknown)).toMatchObject({ status: 404, code: 'unknown_feature' })
  })

  it('shows only the account asked about, and lets a site admin read it through the SDK', async () => {
    t.clock.set(new Date('2030-07-01T12:00:00Z'))
    const mine = await setup()
    const theirs = await setup()
    expect((await theirs.usage('exports_per_day', 3)).statusCode).toBe(200)
    expect((await mine.usage('exports_per_day', 1)).statusCode).toBe(200)
    const admin = testClient(t.app, await loginAdmin(t.app))
    const answer = await expectData(
      admin.GET('/v1/accounts/{accountId}/usage/history', {
        params: { path: { accountId: mine.accountId }, query: { feature: 'exports_per_day' } },
      }),
      200,
    )
    expect(answer.data.at(-1)).toEqual({ period: '2030-07-01', used: 1 })
  })
})
