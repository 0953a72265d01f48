// The lifecycle beyond subscribe/change/cancel, with the manual provider: trials, renewals,
// reminders, failed payments and grace, mark paid, the sweep against the request-time check,
// the change preview, and what every transition records (history, audit log, outgoing events, mail).
import { and, eq } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  loginAdmin,
  registerAndLogin,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { type BillingCustomer, billingCustomer, createPlan } from '../../../test/helpers/billing.ts'
import { auditLog } from '../audit/tables.ts'
import { remindTrialEnding } from './reminders.ts'
import { sweep } from './sweep.ts'
import { subscriptions } from './tables.ts'

const day = 86_400_000

describe('billing lifecycle (manual provider)', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ GRACE_PERIOD_DAYS: '7', TRIAL_REMINDER_DAYS: '3' })
  })
  afterEach(() => t.clock.set(new Date()))
  afterAll(async () => {
    await t?.close()
  })

  const mark = async (invoiceId: string, action: 'mark-paid' | 'mark-failed') =>
    t.app.inject({
      method: 'POST',
      url: `/v1/admin/invoices/${invoiceId}/${action}`,
      headers: bearer(await loginAdmin(t.app)),
    })

  const runSweep = () => sweep(t.deps, t.clock.now())

  describe('trials', () => {
    it('starts a trial from the plan’s trial_days: trialing with access, no invoice, a welcome mail', async () => {
      const plan = await createPlan(t, { trial_days: 14 })
      const c = await billingCustomer(t)
      const res = await c.subscribe(plan)
      expect(res.statusCode, res.body).toBe(201)
      const body = res.json()
      expect(body.status).toBe('trialing')
      expect(body.has_access).toBe(true)
      expect(new Date(body.trial_end).getTime()).toBe(t.clock.now().getTime() + 14 * day)
      expect(body.current_period_end).toBe(body.trial_end)
      expect(await c.invoices()).toEqual([])
      await t.deps.jobs.drain(t.deps)
      expect(await c.mail()).toContainEqual(expect.stringContaining('has started'))
    })

    it('grants one trial per owner: a second account of the same owner pays at once', async () => {
      const plan = await createPlan(t, { trial_days: 7 })
      const first = await billingCustomer(t)
      expect((await first.subscribe(plan)).json().status).toBe('trialing')
      const second = await billingCustomer(t, first.user)
      const res = await second.subscribe(plan)
      expect(res.json().status).toBe('active')
      expect(res.json().trial_end).toBeNull()
      expect(await second.invoices()).toHaveLength(1)
    })

    it('grants one trial when two accounts of one owner subscribe at once', async () => {
      const plan = await createPlan(t, { trial_days: 7 })
      const owner = await registerAndLogin(t.app)
      const accounts = await Promise.all([
        billingCustomer(t, owner),
        billingCustomer(t, owner),
        billingCustomer(t, owner),
        billingCustomer(t, owner),
      ])
      const results = await Promise.all(accounts.map((c) => c.subscribe(plan)))
      expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201])
      expect(results.filter((r) => r.json().status === 'trialing')).toHaveLength(1)
    })

    it('does not grant a second trial to an account that cancels and subscribes again', async () => {
      const plan = await createPlan(t, { trial_days: 7 })
      const c = await billingCustomer(t)
      expect((await c.subscribe(plan)).json().status).toBe('trialing')
      expect((await c.cancel(false)).statusCode).toBe(200)
      expect((await c.subscribe(plan)).json().status).toBe('active')
    })

    it('records a trial reminder once even when several callers race for it (the database decides)', async () => {
      const plan = await createPlan(t, { trial_days: 14 })
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      const row = await c.row()
      // No row lock here: only the unique reminder index stands between the callers.
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          t.deps.db.transaction((tx) => remindTrialEnding(tx, t.deps, row, t.clock.now())),
        ),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await c.history()).filter((type) => type === 'trial_will_end')).toHaveLength(1)
      expect((await c.events()).filter((type) => type === 'subscription.trial_will_end')).toHaveLength(1)
    })

    it('reminds once before the trial ends, then converts it to a paid period', async () => {
      const plan = await createPlan(t, { trial_days: 14, price_cents: 2500 })
      const c = await billingCustomer(t)
      const started = (await c.subscribe(plan)).json()
      const trialEnd = new Date(started.trial_end)

      await c.at(new Date(trialEnd.getTime() - 2 * day))
      expect((await runSweep()).reminded).toBeGreaterThanOrEqual(1)
      await runSweep()
      expect((await c.history()).filter((type) => type === 'trial_will_end')).toHaveLength(1)
      expect((await c.events()).filter((type) => type === 'subscription.trial_will_end')).toHaveLength(1)
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => subject.includes('trial'))).toHaveLength(1)

      await c.at(new Date(trialEnd.getTime() - 1000))
      await runSweep()
      const converted = await c.get()
      expect(converted.status).toBe('active')
      expect(converted.current_period_start).toBe(trialEnd.toISOString())
      const invoices = await c.invoices()
      expect(invoices).toHaveLength(1)
      expect(invoices[0]).toMatchObject({
        status: 'open',
        amount_cents: 2500,
        period_start: trialEnd.toISOString(),
      })
      expect(await c.history()).toContain('trial_ended')
    })
  })

  describe('renewals', () => {
    it('renews a manual subscription ahead of its period end, once, with a new open invoice', async () => {
      const plan = await createPlan(t, { price_cents: 1200 })
      const c = await billingCustomer(t)
      const first = (await c.subscribe(plan)).json()
      const end = new Date(first.current_period_end)
      await c.at(new Date(end.getTime() - 30 * 60_000))
      await Promise.all([runSweep(), runSweep()])
      expect((await c.history()).filter((type) => type === 'renewed')).toHaveLength(1)
      const renewed = await c.get()
      expect(renewed.status).toBe('active')
      expect(renewed.current_period_start).toBe(end.toISOString())
      expect(new Date(renewed.current_period_end).getTime()).toBeGreaterThan(end.getTime() + 27 * day)
      const invoices = await c.invoices()
      expect(invoices).toHaveLength(2)
      expect(invoices[0]).toMatchObject({ amount_cents: 1200, period_start: end.toISOString() })
      // Access never lapsed across the boundary.
      await c.at(new Date(end.getTime() + 1000))
      expect((await c.get()).has_access).toBe(true)
      expect(await c.events()).toContain('subscription.renewed')
    })

    it('applies a change scheduled for period end at the renewal', async () => {
      const cheap = await createPlan(t, { price_cents: 1000, tier: 1 })
      const dear = await createPlan(t, { price_cents: 5000, tier: 2 })
      const c = await billingCustomer(t)
      const first = (await c.subscribe(dear)).json()
      const change = await t.app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${c.account.id}/subscription`,
        headers: bearer(c.user.token),
        payload: { plan: cheap, when: 'period_end' },
      })
      expect(change.json()).toMatchObject({ plan: dear, pending_plan: cheap })
      await c.at(new Date(new Date(first.current_period_end).getTime() - 60_000))
      await runSweep()
      expect(await c.get()).toMatchObject({ plan: cheap, pending_plan: null, status: 'active' })
      expect((await c.invoices())[0]?.amount_cents).toBe(1000)
    })

    it('does not renew a subscription canceled at period end: the sweep expires it after the end', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      const first = (await c.subscribe(plan)).json()
      expect((await c.cancel(true)).json().status).toBe('canceled')
      const end = new Date(first.current_period_end)
      await c.at(new Date(end.getTime() - 60_000))
      expect((await runSweep()).renewed).toBe(0)
      expect((await c.get()).has_access).toBe(true)
      await c.at(new Date(end.getTime() + 1000))
      // Request time already says expired; the sweep then writes it.
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      await runSweep()
      const [row] = await t.deps.db.select().from(subscriptions).where(eq(subscriptions.id, first.id))
      expect(row?.status).toBe('expired')
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      expect(await c.events()).toContain('subscription.expired')
      expect(await c.invoices()).toHaveLength(1)
    })
  })

  describe('failed payments and grace', () => {
    it('past_due keeps access through the grace period, then loses it: request time and sweep agree', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      const first = (await c.subscribe(plan)).json()
      const [invoice] = await c.invoices()
      const failed = await mark(invoice?.id ?? '', 'mark-failed')
      expect(failed.statusCode, failed.body).toBe(200)
      expect(failed.json().status).toBe('failed')
      const pastDue = await c.get()
      expect(pastDue.status).toBe('past_due')
      expect(pastDue.has_access).toBe(true)
      const graceUntil = new Date(pastDue.grace_until!)
      expect(graceUntil.getTime()).toBe(t.clock.now().getTime() + 7 * day)
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).some((subject) => /payment/i.test(subject))).toBe(true)

      // A day before the end of grace: still access, and one reminder.
      await c.at(new Date(graceUntil.getTime() - day / 2))
      expect((await c.addStaff('Ana')).statusCode).toBe(201)
      await runSweep()
      await runSweep()
      expect((await c.history()).filter((type) => type === 'grace_ending')).toHaveLength(1)

      // After the grace period, without the sweep: no access anywhere.
      await c.at(new Date(graceUntil.getTime() + 1000))
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      expect((await c.entitlements()).has_access).toBe(false)
      const refused = await c.addStaff('Bo')
      expect(refused.statusCode).toBe(403)
      expect(refused.json().code).toBe('subscription_required')
      // The sweep writes the same outcome.
      await runSweep()
      const [row] = await t.deps.db.select().from(subscriptions).where(eq(subscriptions.id, first.id))
      expect(row?.status).toBe('expired')
      expect((await c.addStaff('Bo')).statusCode).toBe(403)
    })

    it('mark paid during grace makes the subscription active again; repeating it changes nothing', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      const [invoice] = await c.invoices()
      await mark(invoice?.id ?? '', 'mark-failed')
      expect((await c.get()).status).toBe('past_due')
      const paid = await mark(invoice?.id ?? '', 'mark-paid')
      expect(paid.json()).toMatchObject({ status: 'paid' })
      expect(paid.json().paid_at).not.toBeNull()
      expect(await c.get()).toMatchObject({ status: 'active', grace_until: null })
      expect((await mark(invoice?.id ?? '', 'mark-paid')).json().status).toBe('paid')
      expect((await mark(invoice?.id ?? '', 'mark-failed')).statusCode).toBe(409)
      expect(await c.events()).toEqual(
        expect.arrayContaining(['invoice.created', 'invoice.payment_failed', 'invoice.paid']),
      )
      expect((await c.events()).filter((type) => type === 'invoice.paid')).toHaveLength(1)
    })

    it('cancel and resume do not get a past_due subscription out of what it owes', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      const [invoice] = await c.invoices()
      await mark(invoice?.id ?? '', 'mark-failed')
      const pastDue = await c.get()
      const canceled = (await c.cancel(true)).json()
      expect(canceled).toMatchObject({
        status: 'past_due',
        cancel_at_period_end: true,
        grace_until: pastDue.grace_until,
      })
      expect((await c.change(plan)).statusCode).toBe(409)
      const resumed = (await c.resume()).json()
      expect(resumed).toMatchObject({
        status: 'past_due',
        cancel_at_period_end: false,
        grace_until: pastDue.grace_until,
      })
      await c.at(new Date(new Date(pastDue.grace_until!).getTime() + 1000))
      await runSweep()
      expect((await c.get()).status).toBe('expired')
    })

    it('a past_due subscription set to end that is then paid goes on ending, and can be resumed', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      const [invoice] = await c.invoices()
      await mark(invoice?.id ?? '', 'mark-failed')
      await c.cancel(true)
      await mark(invoice?.id ?? '', 'mark-paid')
      expect(await c.get()).toMatchObject({
        status: 'canceled',
        cancel_at_period_end: true,
        grace_until: null,
      })
      expect((await c.resume()).json()).toMatchObject({ status: 'active', cancel_at_period_end: false })
    })

    it('lets only site admins mark invoices, and 404s an unknown one', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      const [invoice] = await c.invoices()
      const asOwner = await t.app.inject({
        method: 'POST',
        url: `/v1/admin/invoices/${invoice?.id}/mark-paid`,
        headers: bearer(c.user.token),
      })
      expect(asOwner.statusCode).toBe(403)
      expect((await mark('00000000-0000-7000-8000-000000000000', 'mark-paid')).statusCode).toBe(404)
      expect((await mark('not-a-uuid', 'mark-paid')).statusCode).toBe(400)
    })
  })

  describe('preview', () => {
    it('shows the pro-rata charge of an upgrade and the limits a downgrade would exceed', async () => {
      const small = await createPlan(t, {
        price_cents: 1000,
        tier: 1,
        limits: { staff: 1, bookings_per_day: 5 },
      })
      const big = await createPlan(t, {
        price_cents: 4000,
        tier: 2,
        limits: { staff: 5, bookings_per_day: 20 },
      })
      const c = await billingCustomer(t)
      await c.subscribe(big)
      for (const name of ['A', 'B', 'C']) expect((await c.addStaff(name)).statusCode).toBe(201)
      const down = await c.preview(small)
      expect(down.statusCode, down.body).toBe(200)
      expect(down.json()).toMatchObject({
        plan: small,
        current_plan: big,
        change: 'downgrade',
        amount_due_now_cents: 0,
        price_difference_cents: -3000,
        exceeded_limits: [{ feature: 'staff', limit: 1, used: 3 }],
      })

      const other = await billingCustomer(t)
      await other.subscribe(small)
      const up = (await other.preview(big)).json()
      expect(up.change).toBe('upgrade')
      expect(up.amount_due_now_cents).toBe(3000)
      expect(up.exceeded_limits).toEqual([])
      // The preview changed nothing.
      expect((await other.get()).plan).toBe(small)
      expect((await other.preview('no-such-plan')).statusCode).toBe(400)
    })

    it('previews a trial as nothing due until it ends, only while the account and its owner have had none', async () => {
      const trial = await createPlan(t, { price_cents: 900, trial_days: 14 })
      const c = await billingCustomer(t)
      const first = (await c.preview(trial)).json()
      const trialEnd = new Date(t.clock.now().getTime() + 14 * day).toISOString()
      expect(first).toMatchObject({
        change: 'new',
        amount_due_now_cents: 0,
        next_period_price_cents: 900,
        trial_end: trialEnd,
        period_end: trialEnd,
      })
      // What the subscription then does agrees with the preview.
      const started = (await c.subscribe(trial)).json()
      expect(started).toMatchObject({ status: 'trialing', trial_end: trialEnd })
      expect(await c.invoices()).toEqual([])

      // The same owner's second account has had its trial: the preview charges at once.
      const second = await billingCustomer(t, c.user)
      const again = (await second.preview(trial)).json()
      expect(again).toMatchObject({ amount_due_now_cents: 900, trial_end: null })
      const paid = (await second.subscribe(trial)).json()
      expect(paid.status).toBe('active')
      expect(again.period_end).toBe(paid.current_period_end)
    })
  })

  describe('records', () => {
    it('writes every transition to the history and the audit log, and announces it', async () => {
      const plan = await createPlan(t)
      const c = await billingCustomer(t)
      await c.subscribe(plan)
      await c.cancel(true)
      await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/subscription/resume`,
        headers: bearer(c.user.token),
      })
      await c.cancel(false)
      expect(await c.history()).toEqual(['created', 'cancel_scheduled', 'resumed', 'canceled'])
      const audit = await t.deps.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.accountId, c.account.id), eq(auditLog.subjectType, 'subscription')))
        .orderBy(auditLog.id)
      expect(audit.map((row) => row.action)).toEqual([
        'subscription.created',
        'subscription.cancel_scheduled',
        'subscription.resumed',
        'subscription.canceled',
      ])
      expect(audit.every((row) => row.actorType === 'user' && row.actorUserId === c.user.id)).toBe(true)
      expect(await c.events()).toEqual([
        'subscription.created',
        'entitlements.updated',
        'invoice.created',
        'subscription.canceled',
        'subscription.resumed',
        'subscription.canceled',
        'entitlements.updated',
      ])
    })

    it('announces entitlements.updated to every subscriber when a plan’s limits change, not for a rename', async () => {
      const plan = await createPlan(t)
      const a = await billingCustomer(t)
      const b = await billingCustomer(t)
      await a.subscribe(plan)
      await b.subscribe(plan)
      const count = async (c: BillingCustomer) =>
        (await c.events()).filter((type) => type === 'entitlements.updated').length
      const before = [await count(a), await count(b)]
      const adminToken = await loginAdmin(t.app)
      const patch = (payload: Record<string, unknown>) =>
        t.app
          .inject({ method: 'PATCH', url: `/v1/plans/${plan}`, headers: bearer(adminToken), payload })
          .then((res) => expect(res.statusCode, res.body).toBe(200))
      await patch({ name: 'Renamed' })
      await t.deps.jobs.drain(t.deps)
      expect([await count(a), await count(b)]).toEqual(before)
      await patch({ limits: { staff: 9, bookings_per_day: 50 } })
      await t.deps.jobs.drain(t.deps)
      expect([await count(a), await count(b)]).toEqual(before.map((n) => n + 1))
      const audit = await t.deps.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.subjectType, 'plan'), eq(auditLog.subjectId, plan)))
      expect(audit.map((row) => row.action)).toEqual(['plan.created', 'plan.updated', 'plan.updated'])
    })
  })
})
