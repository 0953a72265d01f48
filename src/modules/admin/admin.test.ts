// The operators' read APIs: lists across every account, revenue and churn metrics as of the clock,
// received Stripe events and the audit log, for site admins only.
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'
import type { paths } from '../../../test/helpers/client.ts'
import { newId } from '../../core/ids.ts'
import { auditLog } from '../audit/tables.ts'
import { stripeEvents } from '../stripe/tables.ts'
import { subscriptions } from '../subscriptions/tables.ts'

const dayMs = 24 * 60 * 60 * 1000

/** The admin list routes: a page of `data` and `next_cursor`. */
type ListPath =
  | '/v1/admin/subscriptions'
  | '/v1/admin/accounts'
  | '/v1/admin/webhook-events'
  | '/v1/admin/audit-log'

type AdminGet = ListPath | '/v1/admin/metrics' | '/v1/admin/metrics/series'
type Answer<P extends AdminGet> = paths[P]['get']['responses'][200]['content']['application/json']

/**
 * A GET as `token`, with `query` as written (`?a=1&b=2`), which must answer 200; the answer has the
 * route's generated type. (openapi-fetch cannot take a path that is itself a type parameter.)
 */
async function get<P extends AdminGet>(t: TestApp, token: string, path: P, query = ''): Promise<Answer<P>> {
  const res = await t.app.inject({ method: 'GET', url: `${path}${query}`, headers: bearer(token) })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

/** Follows `next_cursor` from the first page to the last and returns every item in order. */
async function walk<P extends ListPath>(t: TestApp, token: string, path: P, limit: number) {
  const pages: Answer<P>['data'][] = []
  let cursor: string | null = null
  do {
    const body: Answer<P> = await get(t, token, path, `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`)
    pages.push(body.data)
    cursor = body.next_cursor
    if (pages.length > 50) throw new Error('pagination does not end')
  } while (cursor)
  return pages
}

async function createPlan(t: TestApp, admin: string, payload: Record<string, unknown>): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/plans', headers: bearer(admin), payload })
  expect(res.statusCode, res.body).toBe(201)
}

async function cancel(t: TestApp, token: string, accountId: string, atPeriodEnd: boolean) {
  const res = await t.app.inject({
    method: 'POST',
    url: `/v1/accounts/${accountId}/subscription/cancel`,
    headers: bearer(token),
    payload: { at_period_end: atPeriodEnd },
  })
  expect(res.statusCode, res.body).toBe(200)
  return res.json()
}

/** An owner with an account subscribed to `plan`; returns the subscription id too. */
async function customer(t: TestApp, plan: string, name = 'Salon') {
  const owner = await registerAndLogin(t.app)
  const account = await createAccount(t.app, owner.token, { name })
  const subscription = await subscribe(t.app, owner.token, account.id, plan)
  return { owner, account, subscriptionId: subscription.id as string }
}

/** A new access token for a user, for after the clock has moved past the old one's expiry. */
const relogin = async (t: TestApp, user: TestUser) => (await login(t.app, user.email, user.password)).token

describe('admin routes are for site admins only', () => {
  let t: TestApp
  let user: TestUser

  beforeAll(async () => {
    t = await buildTestApp()
    user = await registerAndLogin(t.app)
  })
  afterAll(async () => t.close())

  const urls = [
    '/v1/admin/subscriptions',
    '/v1/admin/accounts',
    '/v1/admin/metrics',
    '/v1/admin/metrics/series',
    '/v1/admin/webhook-events',
    '/v1/admin/audit-log',
  ]

  it.each(urls)('%s answers 401 without a token and 403 to a user who is not a site admin', async (url) => {
    const anonymous = await t.app.inject({ method: 'GET', url })
    expect(problemOf(anonymous)).toMatchObject({
      status: 401,
      code: 'unauthorized',
      contentType: expect.stringContaining('application/problem+json'),
    })
    const member = await t.app.inject({ method: 'GET', url, headers: bearer(user.token) })
    expect(problemOf(member)).toMatchObject({ status: 403, code: 'forbidden' })
    const admin = await t.app.inject({ method: 'GET', url, headers: bearer(await loginAdmin(t.app)) })
    expect(admin.statusCode, admin.body).toBe(200)
  })

  it('documents every admin route in the OpenAPI document', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' })
    const paths = res.json().paths as Record<string, { get?: { operationId?: string; tags?: string[] } }>
    for (const url of urls) {
      expect(paths[url]?.get?.tags).toEqual(['admin'])
      expect(paths[url]?.get?.operationId).toMatch(/^admin/)
    }
  })
})

describe('GET /v1/admin/metrics', () => {
  let t: TestApp
  let admin: string
  const yearly = uniqueCode('yearly')
  const euro = uniqueCode('euro')

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    // 12006 / 12 = 1000.5: a yearly subscription counts 1001 a month.
    await createPlan(t, admin, { code: yearly, name: 'Yearly', price_cents: 12_006, interval: 'year' })
    await createPlan(t, admin, { code: euro, name: 'Euro', price_cents: 2_500, currency: 'EUR' })
  })
  afterAll(async () => t.close())

  const metrics = () => get(t, admin, '/v1/admin/metrics')

  it('reports zeros on an empty database', async () => {
    const now = t.clock.now()
    expect(await metrics()).toEqual({
      as_of: now.toISOString(),
      currency: 'usd',
      mrr_cents: 0,
      mrr_by_currency: {},
      active_by_plan: [],
      trialing: 0,
      past_due: 0,
      active: 0,
      canceled_pending: 0,
      churn_30d: { canceled_or_expired: 0, active_at_start: 0, rate: 0 },
    })
  })

  it('counts paying subscriptions with access, monthly-normalised, per currency', async () => {
    const setStatus = (id: string, values: Partial<typeof subscriptions.$inferInsert>) =>
      t.deps.db.update(subscriptions).set(values).where(eq(subscriptions.id, id))
    const now = t.clock.now()

    await customer(t, 'basic') // active: 1900
    await customer(t, 'pro') // active: 4900
    await customer(t, yearly) // active: 1001 a month
    await customer(t, euro) // active: 2500 eur, never added to usd
    const pending = await customer(t, 'pro') // canceled at period end: still paying until then
    await cancel(t, pending.owner.token, pending.account.id, true)
    const gone = await customer(t, 'basic') // canceled now: no access, no revenue
    await cancel(t, gone.owner.token, gone.account.id, false)
    const trial = await customer(t, 'basic') // trialing: access but no revenue yet
    await setStatus(trial.subscriptionId, {
      status: 'trialing',
      trialEnd: new Date(now.getTime() + 14 * dayMs),
    })
    const late = await customer(t, 'basic') // past due within its grace period: still counted
    await setStatus(late.subscriptionId, {
      status: 'past_due',
      graceUntil: new Date(now.getTime() + 7 * dayMs),
    })
    const unpaid = await customer(t, 'pro') // incomplete: never counted
    await setStatus(unpaid.subscriptionId, { status: 'incomplete' })

    expect(await metrics()).toEqual({
      as_of: now.toISOString(),
      currency: 'usd',
      mrr_cents: 1900 + 4900 + 1001 + 4900 + 1900,
      mrr_by_currency: { usd: 14_601, eur: 2500 },
      active_by_plan: [
        { plan: 'pro', currency: 'usd', count: 2, mrr_cents: 9800 },
        { plan: 'basic', currency: 'usd', count: 2, mrr_cents: 3800 },
        { plan: euro, currency: 'eur', count: 1, mrr_cents: 2500 },
        { plan: yearly, currency: 'usd', count: 1, mrr_cents: 1001 },
      ],
      trialing: 1,
      past_due: 1,
      active: 4,
      canceled_pending: 1,
      // The subscription canceled now ended inside the window, but nothing was live before it.
      churn_30d: { canceled_or_expired: 1, active_at_start: 0, rate: 0 },
    })
  })

  it('drops subscriptions from MRR once their period is over, by the clock, before any sweep', async () => {
    t.clock.advance(40 * dayMs)
    admin = await loginAdmin(t.app)
    const body = await metrics()
    // Only the yearly subscription still has a period running.
    expect(body).toMatchObject({
      as_of: t.clock.now().toISOString(),
      mrr_cents: 1001,
      mrr_by_currency: { usd: 1001 },
      active_by_plan: [{ plan: yearly, currency: 'usd', count: 1, mrr_cents: 1001 }],
      trialing: 0,
      past_due: 0,
      active: 1,
      canceled_pending: 0,
    })
  })
})

describe('GET /v1/admin/metrics churn over 30 days', () => {
  let t: TestApp
  let admin: string
  const yearly = uniqueCode('yearly')

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    await createPlan(t, admin, { code: yearly, name: 'Yearly', price_cents: 12_000, interval: 'year' })
  })
  afterAll(async () => t.close())

  it('divides the subscriptions that ended in the window by those live when it began', async () => {
    // Day 0: the cohort.
    const endsInWindow = await customer(t, 'basic') // canceled at the end of its month: ends on day 28–31
    await cancel(t, endsInWindow.owner.token, endsInWindow.account.id, true)
    const endedBefore = await customer(t, 'basic') // canceled now: ended before the window
    await cancel(t, endedBefore.owner.token, endedBefore.account.id, false)
    const canceledNow = await customer(t, yearly)
    const canceledLater = await customer(t, yearly)
    await customer(t, yearly)
    await customer(t, yearly)
    const unpaid = await customer(t, yearly) // incomplete: never had access, not in the cohort
    await t.deps.db
      .update(subscriptions)
      .set({ status: 'incomplete' })
      .where(eq(subscriptions.id, unpaid.subscriptionId))

    // Day 35: the window is days 5–35.
    t.clock.advance(35 * dayMs)
    admin = await loginAdmin(t.app)
    await cancel(t, await relogin(t, canceledNow.owner), canceledNow.account.id, false)
    await cancel(t, await relogin(t, canceledLater.owner), canceledLater.account.id, true)
    const newcomer = await customer(t, 'basic') // joined and left inside the window
    await cancel(t, newcomer.owner.token, newcomer.account.id, false)

    const body = await get(t, admin, '/v1/admin/metrics')
    expect(body.churn_30d).toEqual({ canceled_or_expired: 3, active_at_start: 5, rate: 0.6 })
    // Three yearly subscriptions still pay: two active and one canceled at period end.
    expect(body).toMatchObject({ mrr_cents: 3000, active: 2, canceled_pending: 1 })
  })

  it('ends the window at the clock: later cancellations are not yet churn', async () => {
    // Day 65: the window is days 35–65, its start included. The two subscriptions that ended on
    // day 35 are churn; the cohort is the four yearly subscriptions live on day 35 (the newcomer
    // was created at the very start, not before it).
    t.clock.advance(30 * dayMs)
    admin = await loginAdmin(t.app)
    const body = await get(t, admin, '/v1/admin/metrics')
    expect(body.churn_30d).toEqual({ canceled_or_expired: 2, active_at_start: 4, rate: 0.5 })
  })
})

describe('GET /v1/admin/metrics/series', () => {
  let t: TestApp
  let admin: string
  const hourMs = 60 * 60 * 1000
  /** The UTC midnight two days from now: day 0 of the scenario, so nothing is in it yet. */
  const day0 = new Date(Math.ceil(Date.now() / dayMs) * dayMs + dayMs)
  const at = (day: number, hour: number) => new Date(day0.getTime() + day * dayMs + hour * hourMs)
  const date = (day: number) => at(day, 0).toISOString().slice(0, 10)

  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => t.close())

  /** The UTC day `daysBack` days before the test clock's today. */
  const dayBefore = (daysBack: number) =>
    new Date(t.clock.now().getTime() - daysBack * dayMs).toISOString().slice(0, 10)
  /** The daily series of the last `days` days, today included (the default range without). */
  const history = async (days?: number) => {
    admin = await loginAdmin(t.app)
    return get(t, admin, '/v1/admin/metrics/series', days === undefined ? '' : `?from=${dayBefore(days - 1)}`)
  }

  /** The point of a day, with only the figures that can be non-zero in this scenario. */
  const figures = (point: Answer<'/v1/admin/metrics/series'>['points'][number] | undefined) =>
    point && {
      date: point.date,
      mrr_cents: point.mrr_cents,
      active_by_plan: point.active_by_plan.map((entry) => `${entry.plan}:${entry.count}:${entry.mrr_cents}`),
      active: point.active,
      canceled_pending: point.canceled_pending,
      cancellations: point.cancellations,
      churned: point.churned,
    }

  /** Today's point must be `GET /v1/admin/metrics` now. */
  async function expectTodayIsMetricsNow(days: number) {
    const body = await history(days)
    const metrics = await get(t, admin, '/v1/admin/metrics')
    const today = body.points.at(-1)
    expect(today?.date).toBe(t.clock.now().toISOString().slice(0, 10))
    expect(today).toMatchObject({
      mrr_cents: metrics.mrr_cents,
      mrr_by_currency: metrics.mrr_by_currency,
      active_by_plan: metrics.active_by_plan,
      trialing: metrics.trialing,
      past_due: metrics.past_due,
      active: metrics.active,
      canceled_pending: metrics.canceled_pending,
    })
    return body
  }

  it('rebuilds each day from subscriptions created, upgraded and canceled at known times', async () => {
    t.clock.set(at(1, 10))
    const a = await customer(t, 'basic')
    const b = await customer(t, 'basic')
    t.clock.set(at(2, 9))
    const upgrade = await t.app.inject({
      method: 'PATCH',
      url: `/v1/accounts/${a.account.id}/subscription`,
      headers: bearer(await relogin(t, a.owner)),
      payload: { plan: 'pro' },
    })
    expect(upgrade.statusCode, upgrade.body).toBe(200)
    t.clock.set(at(3, 11))
    await cancel(t, await relogin(t, b.owner), b.account.id, false)
    t.clock.set(at(4, 8))
    const c = await customer(t, 'basic')
    await cancel(t, c.owner.token, c.account.id, true)
    t.clock.set(at(5, 15))

    const body = await expectTodayIsMetricsNow(6)
    expect(body.as_of).toBe(t.clock.now().toISOString())
    expect(body.points.map(figures)).toEqual([
      {
        date: date(0),
        mrr_cents: 0,
        active_by_plan: [],
        active: 0,
        canceled_pending: 0,
        cancellations: 0,
        churned: 0,
      },
      {
        date: date(1),
        mrr_cents: 3800,
        active_by_plan: ['basic:2:3800'],
        active: 2,
        canceled_pending: 0,
        cancellations: 0,
        churned: 0,
      },
      {
        date: date(2),
        mrr_cents: 6800,
        active_by_plan: ['pro:1:4900', 'basic:1:1900'],
        active: 2,
        canceled_pending: 0,
        cancellations: 0,
        churned: 0,
      },
      // Canceled immediately: no access from that day, and its access ended that day.
      {
        date: date(3),
        mrr_cents: 4900,
        active_by_plan: ['pro:1:4900'],
        active: 1,
        canceled_pending: 0,
        cancellations: 1,
        churned: 1,
      },
      // Canceled at period end: still paying until then.
      {
        date: date(4),
        mrr_cents: 6800,
        active_by_plan: ['pro:1:4900', 'basic:1:1900'],
        active: 1,
        canceled_pending: 1,
        cancellations: 1,
        churned: 0,
      },
      {
        date: date(5),
        mrr_cents: 6800,
        active_by_plan: ['pro:1:4900', 'basic:1:1900'],
        active: 1,
        canceled_pending: 1,
        cancellations: 0,
        churned: 0,
      },
    ])
    for (const point of body.points) {
      expect(point).toMatchObject({
        trialing: 0,
        past_due: 0,
        mrr_by_currency: point.mrr_cents ? { usd: point.mrr_cents } : {},
      })
    }
  })

  it('ends access by the clock before any sweep, and agrees with the metrics on that day too', async () => {
    // Day 45: every monthly period of the scenario is over; nothing has swept them.
    t.clock.set(at(45, 12))
    const body = await expectTodayIsMetricsNow(45)
    const today = body.points.at(-1)
    expect(today).toMatchObject({ mrr_cents: 0, active: 0, canceled_pending: 0, active_by_plan: [] })
    // The subscription canceled on day 3 churned that day, the one canceled at period end on the
    // day its period ended; the one whose period simply ran out is not canceled or expired yet.
    const churnDays = body.points.filter((point) => point.churned > 0)
    expect(churnDays.map((point) => [point.date, point.churned])).toEqual([
      [date(3), 1],
      [expect.not.stringMatching(date(3)), 1],
    ])
  })

  it('counts a trial on the days it ran, from the history once the trial is over', async () => {
    const trialPlan = uniqueCode('trial')
    t.clock.set(at(50, 9))
    admin = await loginAdmin(t.app)
    await createPlan(t, admin, { code: trialPlan, name: 'Trial', price_cents: 3000, trial_days: 14 })
    const trial = await customer(t, trialPlan)
    t.clock.set(at(52, 16))
    await cancel(t, await relogin(t, trial.owner), trial.account.id, false)
    t.clock.set(at(53, 12))
    const body = await expectTodayIsMetricsNow(4)
    expect(
      body.points.map((point) => [
        point.date,
        point.trialing,
        point.mrr_cents,
        point.cancellations,
        point.churned,
      ]),
    ).toEqual([
      [date(50), 1, 0, 0, 0],
      [date(51), 1, 0, 0, 0],
      [date(52), 0, 0, 1, 1],
      [date(53), 0, 0, 0, 0],
    ])
  })

  it('answers 90 days by default, weeks and months on asking, and refuses a bad range', async () => {
    const body = await history()
    expect(body.points).toHaveLength(90)
    expect(body.points.at(-1)?.date).toBe(t.clock.now().toISOString().slice(0, 10))
    expect((await history(366)).points).toHaveLength(366)

    const metrics = await get(t, admin, '/v1/admin/metrics')
    const weeks = await get(t, admin, '/v1/admin/metrics/series', `?from=${dayBefore(13)}&interval=week`)
    expect(weeks.interval).toBe('week')
    expect(weeks.points.map((point) => point.date)).toEqual([dayBefore(13), dayBefore(6)])
    expect(weeks.points[0]?.end).toBe(`${dayBefore(6)}T00:00:00.000Z`)
    expect(weeks.points.at(-1)).toMatchObject({ end: t.clock.now().toISOString(), active: metrics.active })
    const months = await get(
      t,
      admin,
      '/v1/admin/metrics/series',
      `?from=${dayBefore(40)}&to=${dayBefore(0)}&interval=month`,
    )
    expect(months.points.length).toBeGreaterThanOrEqual(2)
    expect(months.points[0]?.date).toBe(dayBefore(40))
    expect(months.points.at(-1)).toMatchObject({
      end: t.clock.now().toISOString(),
      mrr_cents: metrics.mrr_cents,
    })

    for (const query of [
      `?from=${dayBefore(0)}&to=${dayBefore(1)}`,
      `?to=${new Date(t.clock.now().getTime() + dayMs).toISOString().slice(0, 10)}`,
      `?from=${dayBefore(366)}`,
      '?interval=year',
      '?from=2026-02-30',
      '?days=30',
    ]) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/metrics/series${query}`,
        headers: bearer(admin),
      })
      expect(problemOf(res), query).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })
})

describe('GET /v1/admin/subscriptions', () => {
  let t: TestApp
  let admin: string
  let first: Awaited<ReturnType<typeof customer>>
  let second: Awaited<ReturnType<typeof customer>>
  let third: Awaited<ReturnType<typeof customer>>

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    first = await customer(t, 'basic', 'First Salon')
    second = await customer(t, 'pro', 'Second Salon')
    await cancel(t, second.owner.token, second.account.id, true)
    third = await customer(t, 'basic', 'Third Salon')
    await t.deps.db
      .update(subscriptions)
      .set({ provider: 'stripe', providerSubscriptionId: `sub_${newId()}` })
      .where(eq(subscriptions.id, third.subscriptionId))
    const change = await t.app.inject({
      method: 'PATCH',
      url: `/v1/accounts/${first.account.id}/subscription`,
      headers: bearer(first.owner.token),
      payload: { plan: 'pro', when: 'period_end' },
    })
    expect(change.statusCode, change.body).toBe(200)
  })
  afterAll(async () => t.close())

  const list = (query = '') => get(t, admin, '/v1/admin/subscriptions', query).then((body) => body.data)

  it('lists the subscriptions of every account newest first, as the API shows them, with the account name', async () => {
    const data = await list()
    expect(data.map((item) => item.id)).toEqual([
      third.subscriptionId,
      second.subscriptionId,
      first.subscriptionId,
    ])
    expect(data[2]).toMatchObject({
      id: first.subscriptionId,
      account_id: first.account.id,
      account_name: 'First Salon',
      plan: 'basic',
      pending_plan: 'pro',
      status: 'active',
      has_access: true,
      provider: 'manual',
    })
    expect(data[1]).toMatchObject({
      account_name: 'Second Salon',
      status: 'canceled',
      cancel_at_period_end: true,
    })
    expect(data[0]).toMatchObject({ account_name: 'Third Salon', provider: 'stripe' })
  })

  it('filters by status, plan, provider and account', async () => {
    const ids = async (query: string) => (await list(query)).map((item) => item.id)
    expect(await ids('?status=canceled')).toEqual([second.subscriptionId])
    expect(await ids('?status=trialing')).toEqual([])
    expect(await ids('?plan=pro')).toEqual([second.subscriptionId])
    expect(await ids('?plan=basic&provider=manual')).toEqual([first.subscriptionId])
    expect(await ids('?provider=stripe')).toEqual([third.subscriptionId])
    expect(await ids(`?account_id=${first.account.id}`)).toEqual([first.subscriptionId])
    expect(await ids(`?account_id=${newId()}`)).toEqual([])
  })

  it('pages without repeats or gaps', async () => {
    const pages = await walk(t, admin, '/v1/admin/subscriptions', 2)
    expect(pages.map((items) => items.length)).toEqual([2, 1])
    expect(pages.flat().map((item) => item.id)).toEqual([
      third.subscriptionId,
      second.subscriptionId,
      first.subscriptionId,
    ])
  })

  it('refuses unknown filter values with a validation problem', async () => {
    for (const query of [
      '?status=paused',
      '?provider=paypal',
      '?account_id=not-a-uuid',
      '?plan=Not%20A%20Code',
      '?limit=101',
      '?limit=0',
      '?cursor=garbage',
      `?cursor=${Buffer.from(JSON.stringify(['not-a-uuid'])).toString('base64url')}`,
    ]) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/subscriptions${query}`,
        headers: bearer(admin),
      })
      expect(problemOf(res), query).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })

  it('filters on the stored status but shows the status as of the request', async () => {
    t.clock.advance(40 * dayMs)
    admin = await loginAdmin(t.app)
    const data = await list('?status=active')
    expect(data.map((item) => item.id)).toEqual([third.subscriptionId, first.subscriptionId])
    for (const item of data) expect(item).toMatchObject({ status: 'expired', has_access: false })
  })
})

describe('GET /v1/admin/accounts', () => {
  let t: TestApp
  let admin: string
  let alpha: Awaited<ReturnType<typeof customer>>
  let beta: { id: string }
  let gamma: { id: string }
  let betaOwner: TestUser

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    alpha = await customer(t, 'basic', 'Alpha Salon')
    const colleague = await registerAndLogin(t.app)
    await addMember(t, alpha.owner.token, alpha.account.id, colleague)

    betaOwner = await registerAndLogin(t.app)
    beta = await createAccount(t.app, betaOwner.token, { name: 'Beta Barbers' })

    // Gamma's latest subscription is the second one: the first was canceled at once.
    const gammaOwner = await registerAndLogin(t.app)
    gamma = await createAccount(t.app, gammaOwner.token, { name: 'Gamma 100% Cuts' })
    await subscribe(t.app, gammaOwner.token, gamma.id, 'basic')
    await cancel(t, gammaOwner.token, gamma.id, false)
    await subscribe(t.app, gammaOwner.token, gamma.id, 'pro')
  })
  afterAll(async () => t.close())

  const list = (query = '') => get(t, admin, '/v1/admin/accounts', query).then((body) => body.data)

  it('shows each account with its member count, owner and latest subscription', async () => {
    const data = await list()
    expect(data.map((item) => item.id)).toEqual([gamma.id, beta.id, alpha.account.id])
    const [gammaItem, betaItem, alphaItem] = data
    expect(alphaItem).toEqual({
      id: alpha.account.id,
      name: 'Alpha Salon',
      timezone: 'UTC',
      created_at: expect.any(String),
      stripe_customer_id: null,
      member_count: 2,
      owner_email: alpha.owner.email,
      subscription: {
        id: alpha.subscriptionId,
        plan: 'basic',
        status: 'active',
        has_access: true,
        current_period_end: expect.any(String),
      },
    })
    expect(betaItem).toMatchObject({ member_count: 1, owner_email: betaOwner.email, subscription: null })
    expect(gammaItem).toMatchObject({ subscription: { plan: 'pro', status: 'active', has_access: true } })
  })

  it('shows the Stripe customer once the account has one', async () => {
    await t.deps.db.execute(sql`update accounts set stripe_customer_id = 'cus_beta' where id = ${beta.id}`)
    expect((await list(`?q=${beta.id}`))[0]).toMatchObject({ stripe_customer_id: 'cus_beta' })
  })

  it('finds accounts by a part of the name in any case, or by exact id', async () => {
    const names = async (q: string) => (await list(`?q=${encodeURIComponent(q)}`)).map((item) => item.name)
    expect(await names('salon')).toEqual(['Alpha Salon'])
    expect(await names('BARB')).toEqual(['Beta Barbers'])
    expect(await names(beta.id)).toEqual(['Beta Barbers'])
    // LIKE wildcards in q match themselves.
    expect(await names('%')).toEqual(['Gamma 100% Cuts'])
    expect(await names('_')).toEqual([])
    expect(await names('nobody')).toEqual([])
  })

  it('pages without repeats', async () => {
    const pages = await walk(t, admin, '/v1/admin/accounts', 1)
    expect(pages.map((items) => items.length)).toEqual([1, 1, 1])
    expect(pages.flat().map((item) => item.id)).toEqual([gamma.id, beta.id, alpha.account.id])
  })

  it('reports the latest subscription as of the request once its period is over', async () => {
    t.clock.advance(40 * dayMs)
    admin = await loginAdmin(t.app)
    const [item] = await list(`?q=${alpha.account.id}`)
    expect(item).toMatchObject({
      subscription: { id: alpha.subscriptionId, status: 'expired', has_access: false },
    })
  })
})

describe('GET /v1/admin/webhook-events', () => {
  let t: TestApp
  let admin: string
  const ids = {
    oldest: `evt_${newId()}`,
    failing: `evt_${newId()}`,
    tieLow: `evt_a${newId()}`,
    tieHigh: `evt_b${newId()}`,
    sameMillisecond: `evt_${newId()}`,
  }

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    const base = Date.parse('2030-01-01T00:00:00.000Z')
    const at = (ms: number) => new Date(base + ms)
    const event = (id: string, type: string, receivedAt: Date | ReturnType<typeof sql>) => ({
      id,
      type,
      payload: { id, type, object: 'event' },
      eventCreatedAt: at(-60_000),
      receivedAt,
    })
    await t.deps.db.insert(stripeEvents).values([
      { ...event(ids.oldest, 'invoice.paid', at(0)), processedAt: at(1), attempts: 1 },
      {
        ...event(ids.failing, 'customer.subscription.updated', at(1000)),
        attempts: 3,
        lastError: 'subscription not found',
      },
      // Two events received at the same instant: the id breaks the tie.
      { ...event(ids.tieLow, 'invoice.paid', at(2000)), processedAt: at(2001), attempts: 1 },
      { ...event(ids.tieHigh, 'invoice.paid', at(2000)), processedAt: at(2001), attempts: 1 },
      // 100 µs after the tie: the same millisecond, so the cursor must keep microseconds.
      {
        ...event(
          ids.sameMillisecond,
          'invoice.payment_failed',
          sql`'2030-01-01T00:00:02.000100Z'::timestamptz`,
        ),
        attempts: 0,
      },
    ])
  })
  afterAll(async () => t.close())

  const order = [ids.sameMillisecond, ids.tieHigh, ids.tieLow, ids.failing, ids.oldest]

  it('lists the received events latest first, without their payload', async () => {
    const { data } = await get(t, admin, '/v1/admin/webhook-events')
    expect(data.map((item) => item.id)).toEqual(order)
    expect(data[3]).toEqual({
      id: ids.failing,
      type: 'customer.subscription.updated',
      event_created_at: '2029-12-31T23:59:00.000Z',
      received_at: '2030-01-01T00:00:01.000Z',
      processed_at: null,
      attempts: 3,
      last_error: 'subscription not found',
    })
  })

  it('adds the payload when asked', async () => {
    const { data } = await get(
      t,
      admin,
      '/v1/admin/webhook-events',
      '?include=payload&type=customer.subscription.updated',
    )
    expect(data).toHaveLength(1)
    expect(data[0]?.payload).toEqual({
      id: ids.failing,
      type: 'customer.subscription.updated',
      object: 'event',
    })
  })

  it('filters by type and by whether the event was applied', async () => {
    const idsOf = async (query: string) =>
      (await get(t, admin, '/v1/admin/webhook-events', query)).data.map((item) => item.id)
    expect(await idsOf('?type=invoice.paid')).toEqual([ids.tieHigh, ids.tieLow, ids.oldest])
    expect(await idsOf('?processed=false')).toEqual([ids.sameMillisecond, ids.failing])
    expect(await idsOf('?processed=true&type=invoice.paid')).toEqual([ids.tieHigh, ids.tieLow, ids.oldest])
    expect(await idsOf('?type=charge.refunded')).toEqual([])
  })

  it('pages through ties and events within one millisecond without repeats or gaps', async () => {
    const pages = await walk(t, admin, '/v1/admin/webhook-events', 1)
    expect(pages.flat().map((item) => item.id)).toEqual(order)
  })

  it('refuses a bad filter or a forged cursor', async () => {
    const forged = Buffer.from(JSON.stringify(['yesterday', 'evt_1'])).toString('base64url')
    for (const query of ['?processed=maybe', '?include=everything', `?cursor=${forged}`]) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/webhook-events${query}`,
        headers: bearer(admin),
      })
      expect(problemOf(res), query).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })
})

describe('GET /v1/admin/audit-log', () => {
  let t: TestApp
  let admin: string
  let actor: TestUser
  let accountA: string
  let accountB: string
  const entryIds: string[] = []

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    actor = await registerAndLogin(t.app)
    accountA = (await createAccount(t.app, actor.token, { name: 'A' })).id
    accountB = (await createAccount(t.app, actor.token, { name: 'B' })).id
    const entries = [
      {
        actorType: 'user',
        actorUserId: actor.id,
        accountId: accountA,
        action: 'subscription.canceled',
        subjectType: 'subscription',
        subjectId: 'sub-1',
      },
      {
        actorType: 'system',
        actorUserId: null,
        accountId: accountA,
        action: 'subscription.expired',
        subjectType: 'subscription',
        subjectId: 'sub-1',
      },
      {
        actorType: 'provider',
        actorUserId: null,
        accountId: accountB,
        action: 'invoice.paid',
        subjectType: 'invoice',
        subjectId: 'inv-1',
      },
      {
        actorType: 'user',
        actorUserId: actor.id,
        accountId: null,
        action: 'plan.updated',
        subjectType: 'plan',
        subjectId: 'basic',
      },
      {
        actorType: 'user',
        actorUserId: actor.id,
        accountId: accountB,
        action: 'subscription.canceled',
        subjectType: 'subscription',
        subjectId: 'sub-2',
      },
    ]
    // One insert per entry, in order, so the time-ordered ids follow it.
    for (const [index, entry] of entries.entries()) {
      const id = newId()
      entryIds.push(id)
      await t.deps.db.insert(auditLog).values({
        id,
        ...entry,
        data: { index },
        createdAt: new Date(t.clock.now().getTime() + index * 1000),
      })
    }
  })
  afterAll(async () => t.close())

  // Creating the users and accounts above may write entries of its own; the ones inserted here
  // are the newest, and the assertions below single them out by id.
  const list = (query = '') => get(t, admin, '/v1/admin/audit-log', query).then((body) => body.data)
  /** The entries a filter returns: all must match it; gives the indexes of the ones inserted here. */
  const filtered = async (query: string, matches: (item: Record<string, unknown>) => boolean) => {
    const data = await list(query)
    for (const item of data) expect(matches(item), `${query}: ${JSON.stringify(item)}`).toBe(true)
    return data
      .filter((item) => entryIds.includes(item.id as string))
      .map((item) => (item.data as { index: number }).index)
  }

  it('lists entries newest first with who did what to which subject', async () => {
    const data = await list('?limit=100')
    expect(data.slice(0, 5).map((item) => item.id)).toEqual([...entryIds].reverse())
    expect(data[4]).toEqual({
      id: entryIds[0],
      actor_type: 'user',
      actor_user_id: actor.id,
      actor_key_id: null,
      account_id: accountA,
      action: 'subscription.canceled',
      subject_type: 'subscription',
      subject_id: 'sub-1',
      data: { index: 0 },
      created_at: t.clock.now().toISOString(),
    })
  })

  it('filters by action, account, actor and subject', async () => {
    expect(
      await filtered('?action=subscription.canceled', (e) => e.action === 'subscription.canceled'),
    ).toEqual([4, 0])
    expect(await filtered(`?account_id=${accountA}`, (e) => e.account_id === accountA)).toEqual([1, 0])
    expect(await filtered(`?actor_user_id=${actor.id}`, (e) => e.actor_user_id === actor.id)).toEqual([
      4, 3, 0,
    ])
    expect(
      await filtered(
        '?subject_type=subscription&subject_id=sub-1',
        (e) => e.subject_type === 'subscription' && e.subject_id === 'sub-1',
      ),
    ).toEqual([1, 0])
    expect(
      await filtered(
        `?account_id=${accountB}&action=subscription.canceled`,
        (e) => e.account_id === accountB && e.action === 'subscription.canceled',
      ),
    ).toEqual([4])
    expect(await list('?action=nothing.happened')).toEqual([])
  })

  it('pages without repeats or gaps', async () => {
    const everything = (await list('?limit=100')).map((item) => item.id)
    const pages = await walk(t, admin, '/v1/admin/audit-log', 2)
    for (const items of pages.slice(0, -1)) expect(items).toHaveLength(2)
    expect(pages.flat().map((item) => item.id)).toEqual(everything)
    expect(new Set(everything).size).toBe(everything.length)
  })

  it('refuses an actor or account that is not a uuid', async () => {
    for (const query of ['?actor_user_id=42', '?actor_key_id=42', '?account_id=abc']) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/audit-log${query}`,
        headers: bearer(admin),
      })
      expect(problemOf(res), query).toMatchObject({ status: 400, code: 'validation_failed' })
    }
  })
})
