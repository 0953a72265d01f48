// A billing outage stays a billing outage (issue 14): no Stripe call holds a database connection,
// interactive calls are bounded by a budget and a bulkhead, a circuit breaker answers at once while
// Stripe is down, and a subscribe interrupted between its Stripe call and its write is finished by
// reconciliation.
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  login,
  registerAndLogin,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { billingCustomer, createPlan } from '../../../test/helpers/billing.ts'
import {
  type FakeStripe,
  type StripeEvent,
  startFakeStripe,
} from '../../../test/helpers/fake-stripe/index.ts'
import { idempotencyKeys } from '../../core/tables.ts'
import { accounts } from '../accounts/tables.ts'
import { plans } from '../plans/tables.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { reconcileStripe } from './reconcile.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function stripeApp(fake: FakeStripe, env: Record<string, string>) {
  return buildTestApp({
    STRIPE_SECRET_KEY: fake.secretKey,
    STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
    STRIPE_API_URL: fake.url,
    ...env,
  })
}

/** Sessions the fake made for an account (through the customer it made for it). */
function sessionsOf(fake: FakeStripe, accountId: string) {
  const customers = [...fake.customers.values()]
    .filter((customer) => customer.metadata.plangate_account_id === accountId)
    .map((customer) => customer.id)
  return [...fake.checkoutSessions.values()].filter((session) => customers.includes(session.customer ?? ''))
}

describe('Stripe hanging while 40 customers subscribe', () => {
  let t: TestApp
  let fake: FakeStripe
  const budgetMs = 1500

  beforeAll(async () => {
    fake = await startFakeStripe()
    t = await stripeApp(fake, {
      // The default per-attempt timeout and retries (10 s × 3) would be half a minute: the budget cuts it.
      STRIPE_INTERACTIVE_BUDGET_MS: String(budgetMs),
      STRIPE_MAX_CONCURRENT_CALLS: '10',
      STRIPE_BREAKER_COOLDOWN_MS: '500',
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('keeps reads, sign-ins and limited creates of other accounts prompt; the subscribes get 503 within the budget, and a retry with the same key makes one Checkout', async () => {
    // A paying customer on another account, set up while Stripe is fine.
    const plan = await createPlan(t, { limits: { staff: 10, bookings_per_day: 5 } })
    const paying = await billingCustomer(t)
    expect((await paying.subscribe(plan)).statusCode).toBe(202)
    const session = (await paying.row()).checkoutSessionId ?? ''
    for (const event of fake.completeCheckout(session)) {
      const { payload, headers } = fake.signed(event)
      const res = await t.app.inject({ method: 'POST', url: '/v1/billing/webhooks/stripe', headers, payload })
      expect(res.statusCode, res.body).toBe(200)
    }
    expect((await paying.get()).status).toBe('active')

    // 40 accounts (one owner) whose subscribes will wait on Stripe.
    const owner = await registerAndLogin(t.app)
    const waiting = await Promise.all(Array.from({ length: 40 }, () => createAccount(t.app, owner.token)))
    const subscribeOf = (accountId: string) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/subscription`,
        headers: { ...bearer(owner.token), 'idempotency-key': `subscribe-${accountId}` },
        payload: { plan },
      })

    const customerCalls = () => fake.requests.filter((r) => r.path === '/v1/customers').length
    const callsBefore = customerCalls()
    fake.goDown()
    const started = Date.now()
    const pending = waiting.map(async (account) => {
      const res = await subscribeOf(account.id)
      return { res, ms: Date.now() - started }
    })
    await sleep(100)

    // Meanwhile nothing that does not need Stripe waits on it.
    const timed = async (what: string, request: () => Promise<{ statusCode: number; body: string }>) => {
      const at = Date.now()
      const res = await request()
      return { what, status: res.statusCode, ms: Date.now() - at, body: res.body }
    }
    const probes = []
    for (let round = 0; round < 3; round++) {
      probes.push(
        await timed('plans', () => t.app.inject({ method: 'GET', url: '/v1/plans' })),
        await timed('entitlements', () =>
          t.app.inject({
            method: 'GET',
            url: `/v1/accounts/${paying.account.id}/entitlements`,
            headers: bearer(paying.user.token),
          }),
        ),
        await timed('sign-in', async () => {
          const at = Date.now()
          await login(t.app, paying.user.email, paying.user.password)
          return { statusCode: 200, body: `${Date.now() - at}` }
        }),
        await timed('limited create', () => paying.addStaff(`Stylist ${round}`)),
      )
    }
    for (const probe of probes) {
      expect(probe.status, `${probe.what}: ${probe.body}`).toBeLessThan(300)
      expect(probe.ms, `${probe.what} took ${probe.ms} ms while Stripe hung`).toBeLessThan(2000)
    }

    const answers = await Promise.all(pending)
    for (const { res, ms } of answers) {
      expect(res.statusCode, res.body).toBe(503)
      expect(res.json().code).toBe('provider_unavailable')
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
      // Within the budget (and some scheduling slack on a busy machine), never the SDK's 30 s.
      expect(ms).toBeLessThan(budgetMs + 3000)
    }
    // The bulkhead let at most 10 of them wait on Stripe; the rest were answered at once. Each
    // attempt fits in the budget, so nothing goes on calling Stripe after the 503s.
    expect(customerCalls() - callsBefore).toBeLessThanOrEqual(10)
    const afterAnswers = fake.requests.length
    await sleep(1500)
    expect(fake.requests.length).toBe(afterAnswers)

    fake.recover()
    await sleep(600)
    for (const account of waiting.slice(0, 3)) {
      const retried = await subscribeOf(account.id)
      expect(retried.statusCode, retried.body).toBe(202)
      expect(sessionsOf(fake, account.id)).toHaveLength(1)
      expect(retried.json().checkout_url).toContain(sessionsOf(fake, account.id)[0]?.id ?? '-')
      // Replayed, not asked again.
      const again = await subscribeOf(account.id)
      expect(again.headers['idempotent-replayed']).toBe('true')
      expect(sessionsOf(fake, account.id)).toHaveLength(1)
    }
  })
})

describe('the Stripe circuit breaker', () => {
  let t: TestApp
  let fake: FakeStripe
  const cooldownMs = 600
  const metricsToken = 'metrics-token-for-the-breaker-test'

  beforeAll(async () => {
    fake = await startFakeStripe()
    t = await stripeApp(fake, {
      STRIPE_MAX_NETWORK_RETRIES: '0',
      STRIPE_TIMEOUT_MS: '1000',
      STRIPE_BREAKER_FAILURES: '3',
      STRIPE_BREAKER_WINDOW_MS: '60000',
      STRIPE_BREAKER_COOLDOWN_MS: String(cooldownMs),
      METRICS_TOKEN: metricsToken,
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  const ready = async () => (await t.app.inject({ method: 'GET', url: '/ready' })).json()
  const breakerMetric = async () => {
    const text = (await t.app.inject({ method: 'GET', url: '/metrics', headers: bearer(metricsToken) })).body
    return Number(/^plangate_stripe_breaker_state (\d+)$/m.exec(text)?.[1])
  }

  it('opens after the configured failures, answers at once without calling Stripe, lets one probe through after the cool-down, and closes when Stripe answers', async () => {
    const c = await billingCustomer(t)
    const portal = () =>
      t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/billing-portal`,
        headers: bearer(c.user.token),
      })
    expect(await ready()).toMatchObject({ status: 'ok', stripe: { breaker: 'closed' } })
    expect(await breakerMetric()).toBe(0)

    fake.failNext(3, { status: 500 })
    for (let i = 0; i < 3; i++) {
      const res = await portal()
      expect(res.statusCode, res.body).toBe(503)
      expect(res.json().code).toBe('provider_unavailable')
    }
    // Open: reported, but the instance stays ready.
    const open = await t.app.inject({ method: 'GET', url: '/ready' })
    expect(open.statusCode).toBe(200)
    expect(open.json()).toMatchObject({ status: 'ok', database: 'ok', stripe: { breaker: 'open' } })
    expect(await breakerMetric()).toBe(2)

    const calls = fake.requests.length
    const at = Date.now()
    const refused = await portal()
    expect(Date.now() - at).toBeLessThan(500)
    expect(refused.statusCode).toBe(503)
    expect(refused.json().code).toBe('provider_unavailable')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(fake.requests.length).toBe(calls)

    await sleep(cooldownMs + 100)
    // Half-open: one probe goes to Stripe (slow to answer); a request meanwhile is refused at once.
    fake.failNext(1, { hangMs: 400 })
    const probe = portal()
    await sleep(100)
    expect((await ready()).stripe.breaker).toBe('half_open')
    expect(await breakerMetric()).toBe(1)
    const during = await portal()
    expect(during.statusCode).toBe(503)
    const probed = await probe
    expect(probed.statusCode, probed.body).toBe(200)
    expect((await ready()).stripe.breaker).toBe('closed')
    expect(await breakerMetric()).toBe(0)
    expect((await portal()).statusCode).toBe(200)
  })
})

describe('a crash between the Stripe call and the local write', () => {
  let t: TestApp
  let fake: FakeStripe

  beforeAll(async () => {
    fake = await startFakeStripe({ now: () => (t ? t.clock.now() : new Date()) })
    t = await stripeApp(fake, { STRIPE_INTENT_STALE_MS: '60000' })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('is finished by the reconciliation job: the session Stripe made is linked, and no second one is made', async () => {
    const plan = await createPlan(t)
    const c = await billingCustomer(t)
    // The process "dies" after Stripe answered: linking the session fails.
    await t.deps.db.execute(sql`
      create function crash_on_link() returns trigger language plpgsql as $$
      begin raise exception 'simulated crash'; end $$`)
    await t.deps.db.execute(sql`
      create trigger crash_on_link before update of checkout_session_id on subscriptions
      for each row execute function crash_on_link()`)
    const key = `crash-${c.account.id}`
    const crashed = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${c.account.id}/subscription`,
      headers: { ...bearer(c.user.token), 'idempotency-key': key },
      payload: { plan },
    })
    expect(crashed.statusCode).toBeGreaterThanOrEqual(500)
    await t.deps.db.execute(sql`drop trigger crash_on_link on subscriptions`)
    await t.deps.db.execute(sql`drop function crash_on_link()`)

    const made = sessionsOf(fake, c.account.id)
    expect(made).toHaveLength(1)
    const intent = await c.row()
    expect(intent).toMatchObject({ status: 'incomplete', checkoutSessionId: null })
    // The key kept how far the request got.
    const [progress] = await t.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key))
    expect(progress).toMatchObject({ progress: 'provider_called', resourceId: intent.id, statusCode: 0 })

    const stripe = t.deps.billing.stripe
    if (!stripe) throw new Error('stripe not configured')
    // A young intent may still be running: left alone.
    await reconcileStripe({ ...t.deps, stripe: stripe.background })
    expect((await c.row()).checkoutSessionId).toBeNull()

    t.clock.advance(61_000)
    const result = await reconcileStripe({ ...t.deps, stripe: stripe.background })
    expect(result.repaired).toBeGreaterThanOrEqual(1)
    const linked = await c.row()
    expect(linked).toMatchObject({ id: intent.id, status: 'incomplete', checkoutSessionId: made[0]?.id })
    expect(sessionsOf(fake, c.account.id)).toHaveLength(1)

    // The client's retry with its key now gets the linked session, still one at Stripe.
    await c.at(t.clock.now())
    const retried = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${c.account.id}/subscription`,
      headers: { ...bearer(c.user.token), 'idempotency-key': key },
      payload: { plan },
    })
    expect(retried.statusCode, retried.body).toBe(202)
    expect(retried.json().checkout_url).toContain(made[0]?.id ?? '-')
    expect(sessionsOf(fake, c.account.id)).toHaveLength(1)
    const [account] = await t.deps.db.select().from(accounts).where(eq(accounts.id, c.account.id))
    expect(account?.stripeCustomerId).toBeTruthy()
    const rows = await t.deps.db.select().from(subscriptions).where(eq(subscriptions.accountId, c.account.id))
    expect(rows).toHaveLength(1)
  })
})

describe('a subscribe retried while its first attempt waits on Stripe', () => {
  let t: TestApp
  let fake: FakeStripe

  beforeAll(async () => {
    fake = await startFakeStripe()
    t = await stripeApp(fake, {})
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('answers 409 idempotency_in_progress at once instead of waiting, then the first answer is replayed', async () => {
    const plan = await createPlan(t)
    const c = await billingCustomer(t)
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${c.account.id}/subscription`,
        headers: { ...bearer(c.user.token), 'idempotency-key': `slow-${c.account.id}` },
        payload: { plan },
      })
    fake.failNext(1, { match: /^POST \/v1\/checkout\/sessions$/, hangMs: 2000 })
    const first = send()
    await sleep(500)
    const at = Date.now()
    const concurrent = await send()
    expect(Date.now() - at).toBeLessThan(1000)
    expect(concurrent.statusCode, concurrent.body).toBe(409)
    expect(concurrent.json().code).toBe('idempotency_in_progress')
    expect(Number(concurrent.headers['retry-after'])).toBeGreaterThan(0)
    const answered = await first
    expect(answered.statusCode, answered.body).toBe(202)
    const replayed = await send()
    expect(replayed.headers['idempotent-replayed']).toBe('true')
    expect(replayed.json().checkout_url).toBe(answered.json().checkout_url)
    expect(sessionsOf(fake, c.account.id)).toHaveLength(1)
  })
})

describe('Stripe webhooks with a slow Stripe', () => {
  let t: TestApp
  let fake: FakeStripe

  beforeAll(async () => {
    fake = await startFakeStripe()
    t = await stripeApp(fake, {})
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('re-reads the subscription with no transaction open: other requests answer while the re-read hangs', async () => {
    const plan = await createPlan(t)
    const c = await billingCustomer(t)
    expect((await c.subscribe(plan)).statusCode).toBe(202)
    const events = fake.completeCheckout((await c.row()).checkoutSessionId ?? '')
    const completed = events.find((event) => event.type === 'checkout.session.completed')
    if (!completed) throw new Error('no checkout.session.completed')
    fake.failNext(1, { match: /^GET \/v1\/subscriptions\//, hangMs: 3000 })
    const { payload, headers } = fake.signed(completed)
    const delivery = t.app.inject({ method: 'POST', url: '/v1/billing/webhooks/stripe', headers, payload })
    await sleep(200)
    const at = Date.now()
    const plans = await t.app.inject({ method: 'GET', url: '/v1/plans' })
    const subscription = await c.get()
    expect(plans.statusCode).toBe(200)
    expect(subscription.status).toBe('incomplete')
    expect(Date.now() - at).toBeLessThan(1500)
    const delivered = await delivery
    expect(delivered.statusCode, delivered.body).toBe(200)
    expect((await c.get()).status).toBe('active')
  })

  it('never lands a re-read that began before another event was applied: it is read again', async () => {
    const plan = await createPlan(t)
    const c = await billingCustomer(t)
    expect((await c.subscribe(plan)).statusCode).toBe(202)
    const sessionId = (await c.row()).checkoutSessionId ?? ''
    const deliver = (event: StripeEvent) => {
      const { payload, headers } = fake.signed(event)
      return t.app.inject({ method: 'POST', url: '/v1/billing/webhooks/stripe', headers, payload })
    }
    for (const event of fake.completeCheckout(sessionId)) expect((await deliver(event)).statusCode).toBe(200)
    const stripeId = fake.checkoutSessions.get(sessionId)?.subscription ?? ''
    // Set to cancel: its re-read sees that state, but answers late.
    const [canceling] = fake.dashboardUpdate(stripeId, { cancel_at_period_end: true })
    fake.failNext(1, { match: /^GET \/v1\/subscriptions\//, hangMs: 1500 })
    const late = deliver(canceling as StripeEvent)
    await sleep(300)
    // Resumed meanwhile: this event reads and applies the newer state first (no local change).
    const [resumed] = fake.dashboardUpdate(stripeId, { cancel_at_period_end: false })
    expect((await deliver(resumed as StripeEvent)).statusCode).toBe(200)
    expect((await late).statusCode).toBe(200)
    expect(await c.get()).toMatchObject({ status: 'active', cancel_at_period_end: false })
  })

  it('cancels at Stripe with no transaction open: the account is readable while Stripe takes its time', async () => {
    const plan = await createPlan(t)
    const c = await billingCustomer(t)
    expect((await c.subscribe(plan)).statusCode).toBe(202)
    for (const event of fake.completeCheckout((await c.row()).checkoutSessionId ?? '')) {
      const { payload, headers } = fake.signed(event)
      await t.app.inject({ method: 'POST', url: '/v1/billing/webhooks/stripe', headers, payload })
    }
    expect((await c.get()).status).toBe('active')
    fake.failNext(1, { match: /^POST \/v1\/subscriptions\//, hangMs: 3000 })
    const canceling = c.cancel(true)
    await sleep(300)
    const at = Date.now()
    // The subscription row is not held either: reading it answers at once.
    expect((await c.get()).status).toBe('active')
    expect((await t.app.inject({ method: 'GET', url: '/v1/plans' })).statusCode).toBe(200)
    expect(Date.now() - at).toBeLessThan(1500)
    const canceled = await canceling
    expect(canceled.statusCode, canceled.body).toBe(200)
    expect(canceled.json()).toMatchObject({ status: 'canceled', cancel_at_period_end: true })
  })

  it('saves a plan while Stripe does not answer, and makes its Price at the first Checkout', async () => {
    fake.failNext(3, { match: /^POST \/v1\/products$/ })
    const plan = await createPlan(t, { price_cents: 3100 })
    const c = await billingCustomer(t)
    const res = await c.subscribe(plan)
    expect(res.statusCode, res.body).toBe(202)
    const customer = fake.checkoutSessions.get((await c.row()).checkoutSessionId ?? '')?.customer
    const created = fake.requests.find(
      (r) => r.method === 'POST' && r.path === '/v1/checkout/sessions' && r.body.customer === customer,
    )
    const lineItems = created?.body.line_items as { price?: string }[] | undefined
    expect(fake.prices.get(lineItems?.[0]?.price ?? '')?.unit_amount).toBe(3100)
    const [row] = await t.deps.db.select().from(plans).where(eq(plans.code, plan))
    expect(row?.stripePriceId).toBe(lineItems?.[0]?.price)
  })
})
