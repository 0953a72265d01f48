// The Stripe provider end to end against the local fake Stripe: Checkout → webhook → active,
// redelivery and reordering, failures half-way, Stripe down, upgrades waiting for payment,
// trials, dunning and grace, cancel at period end, reconciliation and plan sync.
import { and, eq, sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, loginAdmin, type TestApp, uniqueCode } from '../../../test/helpers/app.ts'
import { type BillingCustomer, billingCustomer, createPlan } from '../../../test/helpers/billing.ts'
import {
  type FakeStripe,
  type StripeEvent,
  startFakeStripe,
} from '../../../test/helpers/fake-stripe/index.ts'
import { accounts } from '../accounts/tables.ts'
import { auditLog } from '../audit/tables.ts'
import { invoices } from '../billing/tables.ts'
import { plans } from '../plans/tables.ts'
import { sweep } from '../subscriptions/sweep.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { events as outgoingEvents } from '../webhooks/tables.ts'
import { retryUnprocessed } from './receive.ts'
import { reconcileStripe } from './reconcile.ts'
import { stripeEvents } from './tables.ts'

const day = 86_400_000

describe('Stripe provider', () => {
  let t: TestApp
  let fake: FakeStripe

  beforeAll(async () => {
    fake = await startFakeStripe({ now: () => (t ? t.clock.now() : new Date()) })
    t = await buildTestApp({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
      STRIPE_API_URL: fake.url,
      STRIPE_TIMEOUT_MS: '1000',
      STRIPE_MAX_NETWORK_RETRIES: '1',
      GRACE_PERIOD_DAYS: '5',
      // These tests inject Stripe failures one after another; the breaker (tested on its own in
      // outage.test.ts) must not open on them and refuse the next test's calls.
      STRIPE_BREAKER_FAILURES: '1000',
    })
  })
  afterEach(() => t.clock.set(new Date()))
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  const deliver = (event: StripeEvent, options?: { secret?: string; timestamp?: number }) => {
    const { payload, headers } = fake.signed(event, options)
    return t.app.inject({ method: 'POST', url: '/v1/billing/webhooks/stripe', headers, payload })
  }
  const deliverAll = async (events: StripeEvent[]) => {
    for (const event of events) {
      const res = await deliver(event)
      expect(res.statusCode, `${event.type}: ${res.body}`).toBe(200)
    }
  }

  const customer = () => billingCustomer(t)
  /** The Stripe customer of the account (set on its first Checkout). */
  async function customerIdOf(c: BillingCustomer) {
    const [row] = await t.deps.db.select().from(accounts).where(eq(accounts.id, c.account.id))
    return row?.stripeCustomerId ?? ''
  }

  /** A customer whose Checkout for `plan` completed, with the events Stripe sent for it. */
  async function activeCustomer(plan: string) {
    const c = await customer()
    const started = await c.subscribe(plan)
    expect(started.statusCode, started.body).toBe(202)
    const row = await c.row()
    const events = fake.completeCheckout(row.checkoutSessionId ?? '')
    return {
      c,
      events,
      stripeSubscriptionId: (fake.checkoutSessions.get(row.checkoutSessionId ?? '')?.subscription ??
        '') as string,
    }
  }

  describe('checkout', () => {
    it('answers 202 with a Checkout URL; the subscription is incomplete until the webhook confirms it', async () => {
      const plan = await createPlan(t, { price_cents: 2900 })
      const c = await customer()
      const res = await c.subscribe(plan)
      expect(res.statusCode, res.body).toBe(202)
      const body = res.json()
      expect(body.checkout_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/checkout\/cs_/)
      expect(body.subscription).toMatchObject({
        status: 'incomplete',
        has_access: false,
        plan,
        provider: 'stripe',
      })
      expect((await c.entitlements()).has_access).toBe(false)
      const refused = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/staff`,
        headers: bearer(c.user.token),
        payload: { name: 'Ana' },
      })
      expect(refused.json().code).toBe('subscription_required')

      // The customer and the session carry the account; the plan got its Product and Price.
      const customerId = await customerIdOf(c)
      expect(fake.customers.get(customerId)?.metadata.plangate_account_id).toBe(c.account.id)
      const row = await c.row()
      const session = fake.checkoutSessions.get(row.checkoutSessionId ?? '')
      expect(session?.metadata).toMatchObject({ plangate_account_id: c.account.id, plan })
      const [planRow] = await t.deps.db.select().from(plans).where(eq(plans.code, plan))
      expect(fake.prices.get(planRow?.stripePriceId ?? '')?.unit_amount).toBe(2900)

      // Asking again while the session is open returns it instead of a second one.
      const again = await c.subscribe(plan)
      expect(again.statusCode).toBe(202)
      expect(again.json().checkout_url).toBe(body.checkout_url)

      const events = fake.completeCheckout(row.checkoutSessionId ?? '')
      await deliverAll(events)
      const active = await c.get()
      expect(active).toMatchObject({ status: 'active', has_access: true, plan, checkout_url: null })
      expect((await c.entitlements()).has_access).toBe(true)
      const ledger = await c.invoices()
      expect(ledger).toHaveLength(1)
      expect(ledger[0]).toMatchObject({ status: 'paid', amount_cents: 2900 })
      expect(ledger[0]?.hosted_url).toBeTruthy()
      expect(await c.history()).toEqual(['created', 'activated'])
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => subject.includes('started'))).toHaveLength(1)
      const types = (
        await t.deps.db.select().from(outgoingEvents).where(eq(outgoingEvents.accountId, c.account.id))
      ).map((row) => row.type)
      expect(types).toEqual(
        expect.arrayContaining([
          'subscription.created',
          'subscription.updated',
          'invoice.paid',
          'entitlements.updated',
        ]),
      )
    })

    it('makes one Checkout session for concurrent subscribes: one 202, the rest 409', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      const results = await Promise.all(Array.from({ length: 6 }, () => c.subscribe(plan)))
      const codes = results.map((r) => r.statusCode).sort()
      expect(codes.filter((code) => code === 202).length).toBeGreaterThanOrEqual(1)
      expect(codes.every((code) => code === 202 || code === 409)).toBe(true)
      const customerId = await customerIdOf(c)
      const sessions = [...fake.checkoutSessions.values()].filter((s) => s.customer === customerId)
      expect(sessions).toHaveLength(1)
      expect(
        new Set(results.filter((r) => r.statusCode === 202).map((r) => r.json().checkout_url)).size,
      ).toBe(1)
    })

    it('expires the subscription when its Checkout session expires unpaid, and frees the account', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      await c.subscribe(plan)
      const row = await c.row()
      await deliverAll(fake.expireCheckout(row.checkoutSessionId ?? ''))
      expect((await c.get()).status).toBe('expired')
      const again = await c.subscribe(plan)
      expect(again.statusCode).toBe(202)
      expect(again.json().checkout_url).not.toContain(row.checkoutSessionId ?? '-')
    })

    it('replaces an open Checkout for another plan, expiring the old session at Stripe', async () => {
      const first = await createPlan(t)
      const second = await createPlan(t, { price_cents: 5000, tier: 2 })
      const c = await customer()
      await c.subscribe(first)
      const old = await c.row()
      const res = await c.subscribe(second)
      expect(res.statusCode, res.body).toBe(202)
      expect(fake.checkoutSessions.get(old.checkoutSessionId ?? '')?.status).toBe('expired')
      expect(res.json().subscription.plan).toBe(second)
    })
  })

  describe('webhooks in', () => {
    it('processes the same event delivered 10 times at once exactly once', async () => {
      const plan = await createPlan(t, { price_cents: 1500 })
      const { c, events } = await activeCustomer(plan)
      for (const event of events) {
        const results = await Promise.all(Array.from({ length: 10 }, () => deliver(event)))
        expect(results.map((r) => r.statusCode)).toEqual(Array(10).fill(200))
        expect(results.filter((r) => r.json().duplicate === false)).toHaveLength(1)
      }
      expect((await c.history()).filter((type) => type === 'activated')).toHaveLength(1)
      expect(await c.invoices()).toHaveLength(1)
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => subject.includes('started'))).toHaveLength(1)
      const stored = await t.deps.db
        .select()
        .from(stripeEvents)
        .where(sql`${stripeEvents.id} in ${events.map((e) => e.id)}`)
      expect(stored).toHaveLength(events.length)
      expect(stored.every((row) => row.processedAt !== null)).toBe(true)
    })

    it('reaches the same final state when the events arrive in reverse order', async () => {
      const plan = await createPlan(t)
      const forward = await activeCustomer(plan)
      await deliverAll(forward.events)
      const reversed = await activeCustomer(plan)
      await deliverAll([...reversed.events].reverse())
      const a = await forward.c.get()
      const b = await reversed.c.get()
      for (const field of ['status', 'plan', 'has_access', 'cancel_at_period_end'] as const)
        expect(b[field]).toEqual(a[field])
      expect(await reversed.c.invoices()).toHaveLength(1)
      expect((await reversed.c.invoices())[0]?.status).toBe('paid')
      // The invoice came before the Checkout completion and is still attached to the subscription.
      const [row] = await t.deps.db
        .select()
        .from(invoices)
        .where(eq(invoices.accountId, reversed.c.account.id))
      expect(row?.subscriptionId).toBe((await reversed.c.row()).id)
    })

    it('never lets a late subscription.updated overwrite a deletion', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      const updated = fake.dashboardUpdate(stripeSubscriptionId, { cancel_at_period_end: true })
      const deleted = fake.dashboardUpdate(stripeSubscriptionId, { status: 'canceled' })
      await deliverAll(deleted)
      await deliverAll(updated)
      const after = await c.get()
      expect(after.status).toBe('canceled')
      expect(after.has_access).toBe(false)
      expect(after.ended_at).not.toBeNull()
    })

    it('writes nothing when a handler fails half-way, answers non-2xx, and succeeds on redelivery', async () => {
      const plan = await createPlan(t, { price_cents: 1700 })
      const { c, events } = await activeCustomer(plan)
      const paid = events.find((event) => event.type === 'invoice.paid')
      if (!paid) throw new Error('no invoice.paid')
      await deliverAll(events.filter((event) => !event.type.startsWith('invoice.')))
      // The invoice is read and written, then re-reading the subscription fails (also on the SDK's retry).
      fake.failNext(2, { match: /^GET \/v1\/subscriptions\// })
      const failed = await deliver(paid)
      expect(failed.statusCode).toBe(503)
      expect(failed.json().code).toBe('provider_unavailable')
      expect(failed.body).not.toContain('Fake Stripe failure')
      expect(await c.invoices()).toHaveLength(0)
      const [stored] = await t.deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, paid.id))
      expect(stored).toMatchObject({ processedAt: null, attempts: 1 })
      expect(stored?.lastError).toBeTruthy()

      const again = await deliver(paid)
      expect(again.statusCode, again.body).toBe(200)
      expect(await c.invoices()).toHaveLength(1)
    })

    it('retries stored events that stayed unprocessed from a job', async () => {
      const plan = await createPlan(t)
      const { c, events } = await activeCustomer(plan)
      const completed = events.find((event) => event.type === 'checkout.session.completed')
      if (!completed) throw new Error('no checkout.session.completed')
      fake.failNext(2, { match: /^GET \/v1\/subscriptions\// })
      expect((await deliver(completed)).statusCode).toBe(503)
      expect((await c.get()).status).toBe('incomplete')
      t.clock.advance(5 * 60_000)
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      expect(await retryUnprocessed({ ...t.deps, stripe }, 60_000)).toBeGreaterThanOrEqual(1)
      expect((await c.get()).status).toBe('active')
    })

    it('refuses a missing, wrong or stale signature with 400 and stores nothing', async () => {
      const plan = await createPlan(t)
      const { events } = await activeCustomer(plan)
      const event = events[0] as StripeEvent
      const count = async () => (await t.deps.db.select({ id: stripeEvents.id }).from(stripeEvents)).length
      const before = await count()
      const { payload } = fake.signed(event)
      const missing = await t.app.inject({
        method: 'POST',
        url: '/v1/billing/webhooks/stripe',
        headers: { 'content-type': 'application/json' },
        payload,
      })
      expect(missing.statusCode).toBe(400)
      expect(missing.headers['content-type']).toContain('application/problem+json')
      expect((await deliver(event, { secret: 'whsec_wrong' })).statusCode).toBe(400)
      const stale = Math.floor(t.clock.now().getTime() / 1000) - 3600
      expect((await deliver(event, { timestamp: stale })).statusCode).toBe(400)
      const future = Math.floor(t.clock.now().getTime() / 1000) + 3600
      expect((await deliver(event, { timestamp: future })).statusCode).toBe(400)
      // A body changed after signing.
      const signed = fake.signed(event)
      const tampered = await t.app.inject({
        method: 'POST',
        url: '/v1/billing/webhooks/stripe',
        headers: signed.headers,
        payload: signed.payload.replace('"livemode": false', '"livemode": true'),
      })
      expect(tampered.statusCode).toBe(400)
      expect(await count()).toBe(before)
    })

    it('acknowledges events of unknown types and objects plangate did not create, changing nothing', async () => {
      const unknown = {
        ...(fake.events[0] as StripeEvent),
        id: `evt_unknown_${uniqueCode()}`,
        type: 'charge.refund.updated',
      }
      expect((await deliver(unknown)).statusCode).toBe(200)
      const foreign = structuredClone(
        fake.events.find((e) => e.type === 'customer.subscription.created') as StripeEvent,
      )
      foreign.id = `evt_foreign_${uniqueCode()}`
      Object.assign(foreign.data.object, { id: 'sub_not_ours', metadata: {} })
      const res = await deliver(foreign)
      expect(res.statusCode).toBe(200)
      const [row] = await t.deps.db
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.providerSubscriptionId, 'sub_not_ours'))
      expect(row).toBeUndefined()
    })
  })

  describe('Stripe failures', () => {
    it('answers 503 without Stripe’s text when Stripe answers 500; the recorded subscribe grants nothing and a retry makes one session', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      fake.failNext(2, { match: /^POST \/v1\/checkout\/sessions$/ })
      const res = await c.subscribe(plan)
      expect(res.statusCode).toBe(503)
      expect(res.json().code).toBe('provider_unavailable')
      expect(res.headers['retry-after']).toBeDefined()
      expect(res.body).not.toContain('Fake Stripe')
      // The intent stays recorded (incomplete, no Checkout, no access), so a retry resumes it.
      const [row] = await t.deps.db
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.accountId, c.account.id))
      expect(row).toMatchObject({ status: 'incomplete', checkoutSessionId: null })
      expect((await c.entitlements()).has_access).toBe(false)
      const customerId = await customerIdOf(c)
      const sessions = () => [...fake.checkoutSessions.values()].filter((s) => s.customer === customerId)
      expect(sessions()).toHaveLength(0)
      const retried = await c.subscribe(plan)
      expect(retried.statusCode, retried.body).toBe(202)
      expect(sessions()).toHaveLength(1)
      expect((await c.row()).id).toBe(row?.id)
    })

    it('answers 503 on a timeout, and the retried subscribe returns the session Stripe made: no duplicate', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      // Stripe makes the session but answers too late, also to the SDK's retry.
      fake.failNext(2, { match: /^POST \/v1\/checkout\/sessions$/, hangMs: 2500 })
      const res = await c.subscribe(plan)
      expect(res.statusCode).toBe(503)
      const customers = () =>
        [...fake.customers.values()]
          .filter((x) => x.metadata.plangate_account_id === c.account.id)
          .map((x) => x.id)
      const made = () =>
        [...fake.checkoutSessions.values()].filter((s) => customers().includes(s.customer ?? ''))
      // The customer was made once too (the retry replays it).
      expect(customers()).toHaveLength(1)
      expect(made()).toHaveLength(1)
      const retried = await c.subscribe(plan)
      expect(retried.statusCode, retried.body).toBe(202)
      expect(made()).toHaveLength(1)
      expect(retried.json().checkout_url).toContain(made()[0]?.id ?? '-')
    })
  })

  describe('plan changes', () => {
    it('does not grant an upgrade whose payment fails; grants it once the invoice is paid', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1, limits: { staff: 1 } })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2, limits: { staff: 5 } })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      fake.setPaymentFails(await customerIdOf(c), true)
      const res = await c.change(pro)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().plan).toBe(basic)
      await deliverAll(fake.takeEvents())
      expect((await c.get()).plan).toBe(basic)
      expect((await c.entitlements()).features.staff).toMatchObject({ limit: 1 })
      expect(await c.history()).toContain('upgrade_awaiting_payment')

      const open = [...fake.invoices.values()].find(
        (invoice) => invoice.subscription === stripeSubscriptionId && invoice.status === 'open',
      )
      if (!open) throw new Error('no open invoice')
      fake.setPaymentFails(await customerIdOf(c), false)
      await deliverAll(fake.payInvoice(open.id))
      expect((await c.get()).plan).toBe(pro)
      expect((await c.entitlements()).features.staff).toMatchObject({ limit: 5 })
    })

    it('grants a paid upgrade at once', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events } = await activeCustomer(basic)
      await deliverAll(events)
      const res = await c.change(pro)
      expect(res.json().plan).toBe(pro)
      await deliverAll(fake.takeEvents())
      expect(await c.get()).toMatchObject({ plan: pro, price: { amount_cents: 3000 } })
    })

    it('keeps the plan until period end for a scheduled downgrade, then switches at renewal', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(pro)
      await deliverAll(events)
      const proPrice = fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id
      const res = await c.change(basic, 'period_end')
      expect(res.json()).toMatchObject({ plan: pro, pending_plan: basic })
      await deliverAll(fake.takeEvents())
      expect(await c.get()).toMatchObject({ plan: pro, pending_plan: basic })
      // Stripe keeps the paid price until shortly before the renewal, when the sweep hands it over.
      expect(fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id).toBe(proPrice)
      const end = new Date((await c.get()).current_period_end)
      await c.at(new Date(end.getTime() - 3_600_000))
      expect((await sweep(t.deps, t.clock.now())).scheduled).toBeGreaterThanOrEqual(1)
      expect(fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id).not.toBe(proPrice)
      await deliverAll(fake.takeEvents())
      // Stripe already holds the next period's price; this period is still pro's, at pro's price.
      expect(await c.get()).toMatchObject({ plan: pro, pending_plan: basic, price: { amount_cents: 3000 } })
      await c.at(end)
      await deliverAll(fake.advancePeriod(stripeSubscriptionId))
      expect(await c.get()).toMatchObject({
        plan: basic,
        pending_plan: null,
        status: 'active',
        price: { amount_cents: 1000 },
      })
    })

    it('a new price makes a new Stripe Price; existing subscribers keep theirs', async () => {
      const plan = await createPlan(t, { price_cents: 1000 })
      const { c, events } = await activeCustomer(plan)
      await deliverAll(events)
      const [before] = await t.deps.db.select().from(plans).where(eq(plans.code, plan))
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/plans/${plan}`,
        headers: bearer(await loginAdmin(t.app)),
        payload: { price_cents: 1200 },
      })
      expect(res.statusCode, res.body).toBe(200)
      const [after] = await t.deps.db.select().from(plans).where(eq(plans.code, plan))
      expect(after?.stripePriceId).not.toBe(before?.stripePriceId)
      expect(fake.prices.get(after?.stripePriceId ?? '')?.unit_amount).toBe(1200)
      expect(fake.prices.get(before?.stripePriceId ?? '')?.active).toBe(false)
      expect((await c.row()).providerPriceId).toBe(before?.stripePriceId)
      expect(await c.get()).toMatchObject({ plan, price: { amount_cents: 1000, currency: 'usd' } })
      // Renewed by Stripe at the price it bills: still 1000.
      const { providerSubscriptionId } = await c.row()
      await c.at(new Date((await c.get()).current_period_end))
      await deliverAll(fake.advancePeriod(providerSubscriptionId ?? ''))
      expect(await c.get()).toMatchObject({ plan, price: { amount_cents: 1000 } })
    })
  })

  describe('lifecycle', () => {
    it('trial → active → past_due → grace end: access until the grace ends, then Stripe is told to stop', async () => {
      const plan = await createPlan(t, { trial_days: 10, price_cents: 2200 })
      const c = await customer()
      expect((await c.subscribe(plan)).statusCode).toBe(202)
      const row = await c.row()
      const started = fake.completeCheckout(row.checkoutSessionId ?? '')
      await deliverAll(started)
      const trialing = await c.get()
      expect(trialing).toMatchObject({ status: 'trialing', has_access: true })
      const stripeId = (await c.row()).providerSubscriptionId ?? ''
      await deliverAll(fake.trialWillEnd(stripeId))
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => subject.includes('trial'))).toHaveLength(1)

      await c.at(new Date(trialing.trial_end!))
      await deliverAll(fake.advancePeriod(stripeId))
      expect(await c.get()).toMatchObject({ status: 'active', has_access: true })

      const periodEnd = new Date((await c.get()).current_period_end)
      await c.at(periodEnd)
      fake.setPaymentFails(await customerIdOf(c), true)
      await deliverAll(fake.advancePeriod(stripeId))
      const pastDue = await c.get()
      expect(pastDue.status).toBe('past_due')
      expect(pastDue.has_access).toBe(true)
      expect(new Date(pastDue.grace_until!).getTime()).toBe(periodEnd.getTime() + 5 * day)
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => /payment/i.test(subject))).toHaveLength(1)
      expect((await c.invoices()).some((invoice) => invoice.status === 'failed')).toBe(true)

      await c.at(new Date(pastDue.grace_until!))
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      await sweep(t.deps, t.clock.now())
      expect((await c.row()).status).toBe('expired')
      await t.deps.jobs.drain(t.deps)
      expect(fake.subscriptions.get(stripeId)?.status).toBe('canceled')
    })

    it('cancel at period end: access until the end, then expired by the sweep and at request time alike', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      const res = await c.cancel(true)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ status: 'canceled', cancel_at_period_end: true, has_access: true })
      expect(fake.subscriptions.get(stripeSubscriptionId)?.cancel_at_period_end).toBe(true)
      await deliverAll(fake.takeEvents())
      const end = new Date(res.json().current_period_end)
      await c.at(new Date(end.getTime() - 1000))
      expect((await c.get()).has_access).toBe(true)
      await c.at(end)
      // Without the sweep:
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      // With Stripe's own deletion arriving, then the sweep:
      await deliverAll(fake.advancePeriod(stripeSubscriptionId))
      await sweep(t.deps, t.clock.now())
      expect((await c.row()).status).toBe('expired')
      expect(await c.get()).toMatchObject({ status: 'expired', has_access: false })
      // One email about the cancellation: when it was asked for, not again when it took effect.
      await t.deps.jobs.drain(t.deps)
      expect((await c.mail()).filter((subject) => /cancel/i.test(subject))).toHaveLength(1)
    })

    it('resumes a cancel at period end at Stripe too', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      await c.cancel(true)
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/subscription/resume`,
        headers: bearer(c.user.token),
      })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json()).toMatchObject({ status: 'active', cancel_at_period_end: false })
      expect(fake.subscriptions.get(stripeSubscriptionId)?.cancel_at_period_end).toBe(false)
    })

    it('cancels now at Stripe: access ends at once', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      const res = await c.cancel(false)
      expect(res.json()).toMatchObject({ status: 'canceled', has_access: false })
      expect(fake.subscriptions.get(stripeSubscriptionId)?.status).toBe('canceled')
      await deliverAll(fake.takeEvents())
      expect((await c.get()).has_access).toBe(false)
    })

    it('lands changes made in the Stripe dashboard or portal', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      const [proRow] = await t.deps.db.select().from(plans).where(eq(plans.code, pro))
      await deliverAll(fake.dashboardUpdate(stripeSubscriptionId, { price: proRow?.stripePriceId ?? '' }))
      expect((await c.get()).plan).toBe(pro)
    })

    it('opens the Customer Portal for owners', async () => {
      const plan = await createPlan(t)
      const { c } = await activeCustomer(plan)
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/billing-portal`,
        headers: bearer(c.user.token),
      })
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().url).toMatch(/^https?:\/\//)
    })
  })

  describe('edge cases', () => {
    it('a change scheduled for period end and then a cancel does not upgrade for free', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      const paidPrice = (await c.row()).providerPriceId
      expect((await c.change(pro, 'period_end')).json()).toMatchObject({ plan: basic, pending_plan: pro })
      expect((await c.cancel(true)).json()).toMatchObject({ plan: basic, pending_plan: null })
      await deliverAll(fake.takeEvents())
      expect((await c.get()).plan).toBe(basic)
      expect(fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id).toBe(paidPrice)
      expect((await c.resume()).json().plan).toBe(basic)
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      await reconcileStripe({ ...t.deps, stripe })
      expect((await c.get()).plan).toBe(basic)
    })

    it('dropping a scheduled change puts back the price the subscriber pays, not the newest', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      const paidPrice = (await c.row()).providerPriceId
      const raised = await t.app.inject({
        method: 'PATCH',
        url: `/v1/plans/${basic}`,
        headers: bearer(await loginAdmin(t.app)),
        payload: { price_cents: 1500 },
      })
      expect(raised.statusCode).toBe(200)
      await c.change(pro, 'period_end')
      expect((await c.change(basic)).json()).toMatchObject({ plan: basic, pending_plan: null })
      expect(fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id).toBe(paidPrice)
    })

    it('hands a change scheduled in the last hours to Stripe at once, and again after it was dropped', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(pro)
      await deliverAll(events)
      const [basicRow] = await t.deps.db.select().from(plans).where(eq(plans.code, basic))
      const priceAtStripe = () => fake.subscriptions.get(stripeSubscriptionId)?.items.data[0]?.price.id
      const paid = priceAtStripe()
      const end = new Date((await c.get()).current_period_end)
      await c.at(new Date(end.getTime() - 20 * 60_000))
      expect((await c.change(basic, 'period_end')).statusCode).toBe(200)
      expect(priceAtStripe()).toBe(basicRow?.stripePriceId)
      expect((await c.change(pro)).json()).toMatchObject({ plan: pro, pending_plan: null })
      expect(priceAtStripe()).toBe(paid)
      t.clock.advance(1000)
      expect((await c.change(basic, 'period_end')).statusCode).toBe(200)
      expect(priceAtStripe()).toBe(basicRow?.stripePriceId)
      await deliverAll(fake.takeEvents())
      await c.at(end)
      await deliverAll(fake.advancePeriod(stripeSubscriptionId))
      expect(await c.get()).toMatchObject({ plan: basic, pending_plan: null })
    })

    it('refuses a change at period end while a renewal webhook is late (the period here is stale)', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      const end = new Date((await c.get()).current_period_end)
      fake.advancePeriod(stripeSubscriptionId)
      await c.at(new Date(end.getTime() + 3_600_000))
      expect((await c.change(pro, 'period_end')).statusCode).toBe(409)
      await sweep(t.deps, t.clock.now())
      expect((await c.get()).plan).toBe(basic)
    })

    it('a change now to the plan already scheduled is charged and granted now', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events } = await activeCustomer(basic)
      await deliverAll(events)
      await c.change(pro, 'period_end')
      expect((await c.change(pro)).json()).toMatchObject({ plan: pro, pending_plan: null })
      await deliverAll(fake.takeEvents())
      expect((await c.get()).plan).toBe(pro)
    })

    it('refuses a change of billing interval at period end (Stripe would charge it now)', async () => {
      const monthly = await createPlan(t, { price_cents: 1000, tier: 1 })
      const yearly = await createPlan(t, { price_cents: 10000, tier: 1, interval: 'year' })
      const { c, events } = await activeCustomer(monthly)
      await deliverAll(events)
      const res = await c.change(yearly, 'period_end')
      expect(res.statusCode).toBe(409)
      expect((await c.get()).pending_plan).toBeNull()
    })

    it('a cancel_at beyond the current period keeps the subscription active until then', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      const sub = fake.subscriptions.get(stripeSubscriptionId)
      if (!sub) throw new Error('no subscription')
      sub.cancel_at = (sub.items.data[0]?.current_period_end ?? 0) + 60 * 86_400
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      await reconcileStripe({ ...t.deps, stripe })
      expect(await c.get()).toMatchObject({ status: 'active', cancel_at_period_end: false })
    })

    it('keeps access while a renewal webhook is late, and takes the new period when it lands', async () => {
      const plan = await createPlan(t)
      const { c, events, stripeSubscriptionId } = await activeCustomer(plan)
      await deliverAll(events)
      const end = new Date((await c.get()).current_period_end)
      await c.at(new Date(end.getTime() + 3_600_000))
      expect(await c.get()).toMatchObject({ status: 'active', has_access: true })
      expect((await c.entitlements()).has_access).toBe(true)
      await sweep(t.deps, t.clock.now())
      expect((await c.row()).status).toBe('active')
      await deliverAll(fake.advancePeriod(stripeSubscriptionId))
      expect(new Date((await c.get()).current_period_start).getTime()).toBe(end.getTime())
    })

    it('never expires an unpaid Checkout locally: a late payment still starts the subscription', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      const started = (await c.subscribe(plan)).json()
      await c.at(new Date(new Date(started.checkout_expires_at).getTime() + 3_600_000))
      await sweep(t.deps, t.clock.now())
      expect((await c.row()).status).toBe('incomplete')
      await deliverAll(fake.completeCheckout((await c.row()).checkoutSessionId ?? ''))
      expect(await c.get()).toMatchObject({ status: 'active', has_access: true })
    })

    it('expires an unpaid Checkout through reconciliation when Stripe says it expired', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      await c.subscribe(plan)
      fake.expireCheckout((await c.row()).checkoutSessionId ?? '')
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      await reconcileStripe({ ...t.deps, stripe })
      expect((await c.get()).status).toBe('expired')
    })

    it('retrying an upgrade after the card is fixed is a new attempt, and is granted', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events } = await activeCustomer(basic)
      await deliverAll(events)
      fake.setPaymentFails(await customerIdOf(c), true)
      expect((await c.change(pro)).json().plan).toBe(basic)
      fake.setPaymentFails(await customerIdOf(c), false)
      t.clock.advance(1000)
      expect((await c.change(pro)).json().plan).toBe(pro)
    })

    it('subscribes after a failed portal call made the Stripe customer (its key is replayed, not reused with other data)', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      fake.failNext(2, { match: /^POST \/v1\/billing_portal\/sessions$/ })
      const portal = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/billing-portal`,
        headers: bearer(c.user.token),
      })
      expect(portal.statusCode).toBe(503)
      const res = await c.subscribe(plan)
      expect(res.statusCode, res.body).toBe(202)
      const made = [...fake.customers.values()].filter((x) => x.metadata.plangate_account_id === c.account.id)
      expect(made).toHaveLength(1)
      expect(made[0]?.email).toBe(c.user.email)
    })

    it('refuses a validly signed event without the fields every event has (400), and stores nothing', async () => {
      const before = (await t.deps.db.select({ id: stripeEvents.id }).from(stripeEvents)).length
      for (const body of [
        { id: 'evt_no_type', object: 'event', created: 1, data: { object: { id: 'x' } } },
        null,
        [],
      ]) {
        const { payload, headers } = fake.signed(body as unknown as StripeEvent)
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/billing/webhooks/stripe',
          headers,
          payload,
        })
        expect(res.statusCode, res.body).toBe(400)
        expect(res.json().code).toBe('validation_failed')
      }
      expect((await t.deps.db.select({ id: stripeEvents.id }).from(stripeEvents)).length).toBe(before)
    })

    it('ignores invoice events of customers that are not ours without asking Stripe', async () => {
      const plan = await createPlan(t)
      const { events } = await activeCustomer(plan)
      const paid = structuredClone(events.find((event) => event.type === 'invoice.paid') as StripeEvent)
      paid.id = `evt_foreign_invoice_${uniqueCode()}`
      Object.assign(paid.data.object, { customer: 'cus_not_ours' })
      const reads = () =>
        fake.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/invoices/')).length
      const before = reads()
      expect((await deliver(paid)).statusCode).toBe(200)
      expect(reads()).toBe(before)
    })
  })

  describe('reconciliation', () => {
    it('repairs a subscription changed only at Stripe, logs the repair, and is idempotent', async () => {
      const basic = await createPlan(t, { price_cents: 1000, tier: 1 })
      const pro = await createPlan(t, { price_cents: 3000, tier: 2 })
      const { c, events, stripeSubscriptionId } = await activeCustomer(basic)
      await deliverAll(events)
      const [proRow] = await t.deps.db.select().from(plans).where(eq(plans.code, pro))
      // The webhook of this change never arrives.
      fake.dashboardUpdate(stripeSubscriptionId, {
        price: proRow?.stripePriceId ?? '',
        cancel_at_period_end: true,
      })
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      const first = await reconcileStripe({ ...t.deps, stripe })
      expect(first.repaired).toBeGreaterThanOrEqual(1)
      expect(await c.get()).toMatchObject({ plan: pro, cancel_at_period_end: true, status: 'canceled' })
      const repairs = await t.deps.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.accountId, c.account.id), sql`${auditLog.data}->>'reconciled' = 'true'`))
      expect(repairs.length).toBeGreaterThanOrEqual(1)
      expect(repairs.every((row) => row.actorType === 'system')).toBe(true)
      const second = await reconcileStripe({ ...t.deps, stripe })
      expect(second.repaired).toBe(0)
    })

    it('links a paid Checkout whose webhooks never arrived', async () => {
      const plan = await createPlan(t)
      const c = await customer()
      await c.subscribe(plan)
      fake.completeCheckout((await c.row()).checkoutSessionId ?? '')
      const stripe = t.deps.billing.stripe
      if (!stripe) throw new Error('stripe not configured')
      await reconcileStripe({ ...t.deps, stripe })
      expect(await c.get()).toMatchObject({ status: 'active', has_access: true })
    })
  })

  it('keeps the invoice ledger unique per Stripe invoice', async () => {
    const plan = await createPlan(t)
    const { c, events } = await activeCustomer(plan)
    await deliverAll(events)
    await deliverAll(events.map((event) => ({ ...event, id: `${event.id}_copy` })))
    const rows = await t.deps.db.select().from(invoices).where(eq(invoices.accountId, c.account.id))
    expect(rows).toHaveLength(1)
  })
})

describe('Stripe webhook endpoint and rate limits', () => {
  it('is exempt from rate limiting: Stripe may deliver bursts', async () => {
    let t: TestApp | undefined
    const fake = await startFakeStripe({ now: () => (t ? t.clock.now() : new Date()) })
    t = await buildTestApp({
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
      STRIPE_API_URL: fake.url,
      RATE_LIMIT_PER_MINUTE: '2',
    })
    try {
      const event = {
        id: `evt_burst_${uniqueCode()}`,
        object: 'event' as const,
        api_version: '2026-10-28.endive',
        created: Math.floor(t.clock.now().getTime() / 1000),
        type: 'charge.succeeded',
        data: { object: { id: 'ch_1', object: 'charge' } },
        livemode: false as const,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
      }
      for (let i = 0; i < 6; i++) {
        const { payload, headers } = fake.signed({ ...event, id: `${event.id}_${i}` })
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/billing/webhooks/stripe',
          headers,
          payload,
        })
        expect(res.statusCode, res.body).toBe(200)
      }
      // The limit itself is on: any other route is limited after two requests.
      const statuses = []
      for (let i = 0; i < 3; i++)
        statuses.push((await t.app.inject({ method: 'GET', url: '/v1/plans' })).statusCode)
      expect(statuses).toContain(429)
    } finally {
      await t.close()
      await fake.close()
    }
  })
})
