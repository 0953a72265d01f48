// Subscribers keep their price: a change of a plan's price reaches new subscriptions and plan
// changes, never an existing subscription's renewals, its proration credit, the MRR or its mail.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, loginAdmin, type TestApp } from '../../../test/helpers/app.ts'
import { billingCustomer, createPlan } from '../../../test/helpers/billing.ts'
import { sweep } from './sweep.ts'

const day = 86_400_000

describe('the subscriber’s price (manual provider)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterEach(() => t.clock.set(new Date()))
  afterAll(async () => {
    await t?.close()
  })

  const reprice = async (code: string, body: Record<string, unknown>) => {
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/v1/plans/${code}`,
      headers: bearer(await loginAdmin(t.app)),
      payload: body,
    })
    expect(res.statusCode, res.body).toBe(200)
  }
  const metrics = async () =>
    (
      await t.app.inject({
        method: 'GET',
        url: '/v1/admin/metrics',
        headers: bearer(await loginAdmin(t.app)),
      })
    ).json()
  const amounts = (invoices: { amount_cents: number }[]) => invoices.map((invoice) => invoice.amount_cents)

  it('renews at the price subscribed to after the plan’s price rises; a new subscriber pays the new one', async () => {
    const plan = await createPlan(t, { price_cents: 1900 })
    const before = (await metrics()).mrr_cents
    const early = await billingCustomer(t)
    const subscribed = (await early.subscribe(plan)).json()
    expect(subscribed.price).toEqual({ amount_cents: 1900, currency: 'usd', interval: 'month' })

    await reprice(plan, { price_cents: 2900 })
    const late = await billingCustomer(t)
    expect((await late.subscribe(plan)).json().price.amount_cents).toBe(2900)
    expect((await early.get()).price.amount_cents).toBe(1900)
    // MRR counts what each pays: the early subscriber still 1900.
    expect((await metrics()).mrr_cents - before).toBe(1900 + 2900)

    // Renewal: the early subscriber's next invoice is 1900, the late one's 2900.
    await early.at(new Date(new Date(subscribed.current_period_end).getTime() + 1000))
    await sweep(t.deps, t.clock.now())
    expect(amounts(await early.invoices())).toEqual([1900, 1900])
    expect((await early.get()).price.amount_cents).toBe(1900)
    const history = await t.app.inject({
      method: 'GET',
      url: `/v1/accounts/${early.account.id}/subscription/history`,
      headers: bearer(early.user.token),
    })
    expect(history.json().data[0]).toMatchObject({
      type: 'renewed',
      price: { amount_cents: 1900, currency: 'usd', interval: 'month' },
    })
  })

  it('credits what the subscriber pays when they change plan, and then charges the new plan’s price', async () => {
    const basic = await createPlan(t, { price_cents: 1000 })
    const pro = await createPlan(t, { price_cents: 5000, tier: 2 })
    const c = await billingCustomer(t)
    const start = t.clock.now()
    const subscribed = (await c.subscribe(basic)).json()
    await reprice(basic, { price_cents: 3000 })

    // Halfway through: the credit is half of the 1000 paid, not of the 3000 the plan costs today.
    const end = new Date(subscribed.current_period_end)
    await c.at(new Date((start.getTime() + end.getTime()) / 2))
    const preview = (await c.preview(pro)).json()
    expect(preview).toMatchObject({
      change: 'upgrade',
      price_difference_cents: 4000,
      next_period_price_cents: 5000,
      amount_due_now_cents: 2000,
    })
    const samePlan = (await c.preview(basic)).json()
    expect(samePlan).toMatchObject({
      change: 'same',
      price_difference_cents: 0,
      next_period_price_cents: 1000,
    })

    const changed = await c.change(pro)
    expect(changed.statusCode, changed.body).toBe(200)
    expect(changed.json().price.amount_cents).toBe(5000)
    expect(amounts(await c.invoices()).sort((a, b) => a - b)).toEqual([1000, preview.amount_due_now_cents])

    // Back to basic: now at basic's price of today.
    const back = await c.change(basic)
    expect(back.json().price.amount_cents).toBe(3000)
  })

  it('starts a scheduled plan at its price of the renewal, and keeps a trial’s price after it ends', async () => {
    const basic = await createPlan(t, { price_cents: 1500, trial_days: 7 })
    const pro = await createPlan(t, { price_cents: 4000, tier: 2 })
    const c = await billingCustomer(t)
    const trial = (await c.subscribe(basic)).json()
    expect(trial.status).toBe('trialing')
    await reprice(basic, { price_cents: 2500 })

    // The trial ends: the first invoice is the price of when it began.
    await c.at(new Date(new Date(trial.trial_end).getTime() + 1000))
    await sweep(t.deps, t.clock.now())
    expect(amounts(await c.invoices())).toEqual([1500])

    // A change scheduled for period end, then the plan's price changes before the renewal.
    expect((await c.change(pro, 'period_end')).statusCode).toBe(200)
    await reprice(pro, { price_cents: 4500 })
    const current = await c.get()
    await c.at(new Date(new Date(current.current_period_end).getTime() + 1000))
    await sweep(t.deps, t.clock.now())
    const renewed = await c.get()
    expect(renewed.plan).toBe(pro)
    expect(renewed.price.amount_cents).toBe(4500)
    expect(amounts(await c.invoices())).toEqual([4500, 1500])
  })

  it('keeps the interval subscribed to when the plan moves to yearly billing', async () => {
    const plan = await createPlan(t, { price_cents: 1000 })
    const c = await billingCustomer(t)
    const subscribed = (await c.subscribe(plan)).json()
    await reprice(plan, { price_cents: 10_000, interval: 'year' })
    const periodEnd = new Date(subscribed.current_period_end)
    await c.at(new Date(periodEnd.getTime() + 1000))
    await sweep(t.deps, t.clock.now())
    const renewed = await c.get()
    expect(renewed.price).toEqual({ amount_cents: 1000, currency: 'usd', interval: 'month' })
    // A month (28–31 days), not a year.
    const length = new Date(renewed.current_period_end).getTime() - periodEnd.getTime()
    expect(length).toBeGreaterThanOrEqual(28 * day)
    expect(length).toBeLessThanOrEqual(31 * day)
  })
})
