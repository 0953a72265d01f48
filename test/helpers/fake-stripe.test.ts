import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FakeStripe, startFakeStripe } from './fake-stripe/index.ts'

// The fake is exercised through the official SDK, configured the way the service configures it.
let fake: FakeStripe
let clock = new Date('2030-01-31T10:00:00Z')
const seconds = (iso: string) => Date.parse(iso) / 1000

function client(options: { timeout?: number; maxNetworkRetries?: number } = {}) {
  const url = new URL(fake.url)
  return new Stripe(fake.secretKey, {
    host: url.hostname,
    port: Number(url.port),
    protocol: url.protocol.replace(':', '') as 'http',
    timeout: 2000,
    maxNetworkRetries: 1,
    ...options,
  })
}

let stripe: Stripe
let basic: Stripe.Price
let pro: Stripe.Price

beforeAll(async () => {
  fake = await startFakeStripe({ now: () => clock })
  stripe = client()
  const product = await stripe.products.create({ name: 'Plangate', metadata: { plan: 'team' } })
  const recurring = { interval: 'month' as const }
  basic = await stripe.prices.create({ product: product.id, unit_amount: 1000, currency: 'usd', recurring })
  pro = await stripe.prices.create({ product: product.id, unit_amount: 3000, currency: 'usd', recurring })
})

afterAll(() => fake.close())

/** A customer who went through Checkout for `price`; the events of that are taken. */
async function subscribe(price: Stripe.Price, trialDays?: number) {
  const customer = await stripe.customers.create({ email: 'owner@example.com', name: 'Owner' })
  const session = await stripe.checkout.sessions.create({
    mode: 'subscription',
    customer: customer.id,
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: 'https://app.example.com/done',
    cancel_url: 'https://app.example.com/cancel',
    client_reference_id: 'acc_1',
    subscription_data: { metadata: { account_id: 'acc_1' }, trial_period_days: trialDays },
  })
  const events = fake.completeCheckout(session.id)
  fake.takeEvents()
  const subscription = await stripe.subscriptions.retrieve(
    fake.checkoutSessions.get(session.id)?.subscription ?? '',
  )
  return { customer, session, subscription, events }
}

const types = (events: { type: string }[]) => events.map((event) => event.type)

describe('checkout', () => {
  it('a completed session starts an active subscription with its period on the item and a paid invoice', async () => {
    clock = new Date('2030-01-31T10:00:00Z')
    const { session, subscription, events } = await subscribe(basic)
    expect(session).toMatchObject({ object: 'checkout.session', status: 'open', mode: 'subscription' })
    expect(session.url).toBe(`${fake.url}/checkout/${session.id}`)
    expect(session.expires_at).toBe(seconds('2030-02-01T10:00:00Z'))
    expect(session.id).toMatch(/^cs_test_/)
    expect(types(events)).toEqual([
      'checkout.session.completed',
      'customer.subscription.created',
      'invoice.created',
      'invoice.finalized',
      'invoice.paid',
      'invoice.payment_succeeded',
    ])

    expect(subscription).toMatchObject({ status: 'active', metadata: { account_id: 'acc_1' } })
    expect(subscription.id).toMatch(/^sub_/)
    const item = subscription.items.data[0]
    expect(item?.price.id).toBe(basic.id)
    expect(item?.current_period_start).toBe(seconds('2030-01-31T10:00:00Z'))
    // A calendar month from the 31st of January ends on the last day of February.
    expect(item?.current_period_end).toBe(seconds('2030-02-28T10:00:00Z'))

    const invoice = await stripe.invoices.retrieve(subscription.latest_invoice as string)
    expect(invoice).toMatchObject({
      status: 'paid',
      amount_paid: 1000,
      billing_reason: 'subscription_create',
    })
    expect(invoice.parent?.subscription_details?.subscription).toBe(subscription.id)
    expect((invoice as unknown as { subscription: string }).subscription).toBe(subscription.id)

    const completed = await stripe.checkout.sessions.retrieve(session.id)
    expect(completed).toMatchObject({
      status: 'complete',
      subscription: subscription.id,
      payment_status: 'paid',
    })
    expect(events[0]?.data.object).toMatchObject({ status: 'complete', subscription: subscription.id })
    expect(events[2]?.data.object).toMatchObject({ status: 'draft' })
  })

  it('a trial starts trialing and its end starts the first paid period', async () => {
    clock = new Date('2030-01-10T00:00:00Z')
    const { subscription } = await subscribe(basic, 14)
    expect(subscription).toMatchObject({ status: 'trialing', trial_end: seconds('2030-01-24T00:00:00Z') })
    expect(subscription.items.data[0]?.current_period_end).toBe(seconds('2030-01-24T00:00:00Z'))
    expect(types(fake.trialWillEnd(subscription.id))).toEqual(['customer.subscription.trial_will_end'])

    clock = new Date('2030-01-24T00:00:00Z')
    const events = fake.advancePeriod(subscription.id)
    expect(types(events)).toEqual([
      'invoice.created',
      'invoice.paid',
      'invoice.payment_succeeded',
      'customer.subscription.updated',
    ])
    expect(events[3]?.data.previous_attributes).toMatchObject({ status: 'trialing' })
    const renewed = await stripe.subscriptions.retrieve(subscription.id)
    expect(renewed.status).toBe('active')
    expect(renewed.items.data[0]?.current_period_start).toBe(seconds('2030-01-24T00:00:00Z'))
    expect(renewed.items.data[0]?.current_period_end).toBe(seconds('2030-02-24T00:00:00Z'))
  })

  it('an expired session cannot be expired again', async () => {
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: basic.id }],
      success_url: 'https://app.example.com/done',
    })
    fake.takeEvents()
    expect((await stripe.checkout.sessions.expire(session.id)).status).toBe('expired')
    expect(types(fake.takeEvents())).toEqual(['checkout.session.expired'])
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
    })
  })
})

describe('idempotency and failures', () => {
  const sessionParams = (): Stripe.Checkout.SessionCreateParams => ({
    mode: 'subscription',
    line_items: [{ price: basic.id, quantity: 1 }],
    success_url: 'https://app.example.com/done',
  })

  it('a repeated Idempotency-Key replays the first session and creates only one', async () => {
    const before = fake.checkoutSessions.size
    const first = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'checkout-1' })
    const second = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'checkout-1' })
    expect(second.id).toBe(first.id)
    expect(fake.checkoutSessions.size).toBe(before + 1)
    expect(fake.requests.filter((request) => request.idempotencyKey === 'checkout-1')).toHaveLength(2)

    const other = { ...sessionParams(), client_reference_id: 'someone-else' }
    await expect(
      stripe.checkout.sessions.create(other, { idempotencyKey: 'checkout-1' }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError)
  })

  it('failNext answers 500 before doing anything, which the SDK raises as StripeAPIError', async () => {
    const before = fake.customers.size
    fake.failNext(1, { match: /^POST \/v1\/customers$/ })
    const error = await client({ maxNetworkRetries: 0 })
      .customers.create({ email: 'a@example.com' })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError)
    expect(error).toMatchObject({ statusCode: 500, message: 'Fake Stripe failure' })
    expect(fake.customers.size).toBe(before)

    // An injected failure is not stored for replay, so the SDK's retry with the same key succeeds.
    fake.failNext(1)
    const customer = await client({ maxNetworkRetries: 1 }).customers.create({ email: 'b@example.com' })
    const attempts = fake.requests.slice(-2)
    expect(attempts[0]?.idempotencyKey).toBeDefined()
    expect(attempts[1]?.idempotencyKey).toBe(attempts[0]?.idempotencyKey)
    expect(fake.customers.get(customer.id)?.email).toBe('b@example.com')
    expect(fake.customers.size).toBe(before + 1)
  })

  it('hangMs does the work but answers too late; the retry with the same key replays it', async () => {
    const before = fake.customers.size
    fake.failNext(1, { hangMs: 5000 })
    const slow = client({ timeout: 200, maxNetworkRetries: 0 })
    await expect(
      slow.customers.create({ email: 'late@example.com' }, { idempotencyKey: 'late-1' }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError)
    expect(fake.customers.size).toBe(before + 1)
    const created = [...fake.customers.values()].at(-1)
    expect(created?.email).toBe('late@example.com')

    const replayed = await stripe.customers.create(
      { email: 'late@example.com' },
      { idempotencyKey: 'late-1' },
    )
    expect(replayed.id).toBe(created?.id)
    expect(fake.customers.size).toBe(before + 1)
  })

  it('a wrong API key, a missing object and an unknown endpoint are refused like Stripe refuses them', async () => {
    const url = new URL(fake.url)
    const wrongKey = new Stripe('sk_test_wrong', {
      host: url.hostname,
      port: Number(url.port),
      protocol: 'http',
    })
    await expect(wrongKey.customers.retrieve('cus_x')).rejects.toBeInstanceOf(
      Stripe.errors.StripeAuthenticationError,
    )
    await expect(stripe.subscriptions.retrieve('sub_missing')).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      code: 'resource_missing',
      statusCode: 404,
    })
    const response = await fetch(`${fake.url}/v1/charges`, {
      headers: { authorization: `Bearer ${fake.secretKey}` },
    })
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } })
  })
})

describe('subscription changes', () => {
  it('an upgrade whose payment fails with pending_if_incomplete keeps the old price and a pending update', async () => {
    clock = new Date('2030-03-01T00:00:00Z')
    const { customer, subscription } = await subscribe(basic)
    const item = subscription.items.data[0]!
    // Half of March is left: the prorated difference is half of 3000 - 1000.
    clock = new Date('2030-03-16T12:00:00Z')
    fake.setPaymentFails(customer.id, true)
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: item.id, price: pro.id }],
      proration_behavior: 'always_invoice',
      payment_behavior: 'pending_if_incomplete',
    })
    expect(updated.items.data[0]?.price.id).toBe(basic.id)
    expect(updated.pending_update?.subscription_items?.[0]?.price.id).toBe(pro.id)
    expect(updated.status).toBe('active')
    expect(types(fake.takeEvents())).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.payment_failed',
      'customer.subscription.updated',
    ])
    const invoice = await stripe.invoices.retrieve(updated.latest_invoice as string)
    expect(invoice).toMatchObject({
      status: 'open',
      amount_due: 1000,
      attempt_count: 1,
      billing_reason: 'subscription_update',
    })

    fake.payInvoice(invoice.id)
    const applied = await stripe.subscriptions.retrieve(subscription.id)
    expect(applied.items.data[0]?.price.id).toBe(pro.id)
    expect(applied.pending_update).toBeNull()
  })

  it('a paid upgrade swaps the price at once and charges the prorated difference', async () => {
    clock = new Date('2030-03-01T00:00:00Z')
    const { subscription } = await subscribe(basic)
    clock = new Date('2030-03-16T12:00:00Z')
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0]!.id, price: pro.id }],
      proration_behavior: 'always_invoice',
    })
    expect(updated.items.data[0]?.price.id).toBe(pro.id)
    const invoice = await stripe.invoices.retrieve(updated.latest_invoice as string)
    expect(invoice).toMatchObject({ status: 'paid', amount_paid: 1000 })
    expect(types(fake.takeEvents())).toContain('invoice.payment_succeeded')

    // Without proration nothing is invoiced.
    const downgraded = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: subscription.items.data[0]!.id, price: basic.id }],
      proration_behavior: 'none',
    })
    expect(downgraded.items.data[0]?.price.id).toBe(basic.id)
    expect(downgraded.latest_invoice).toBe(invoice.id)
    expect(types(fake.takeEvents())).toEqual(['customer.subscription.updated'])
  })

  it('a renewal whose payment fails leaves the subscription past_due until the invoice is paid', async () => {
    clock = new Date('2030-05-01T00:00:00Z')
    const { customer, subscription } = await subscribe(basic)
    fake.setPaymentFails(customer.id, true)
    clock = new Date('2030-06-01T00:00:00Z')
    const events = fake.advancePeriod(subscription.id)
    expect(types(events)).toEqual([
      'invoice.created',
      'invoice.payment_failed',
      'customer.subscription.updated',
    ])
    const pastDue = await stripe.subscriptions.retrieve(subscription.id)
    expect(pastDue.status).toBe('past_due')
    expect(pastDue.items.data[0]?.current_period_start).toBe(seconds('2030-06-01T00:00:00Z'))
    const invoice = await stripe.invoices.retrieve(pastDue.latest_invoice as string)
    expect(invoice).toMatchObject({ status: 'open', attempt_count: 1, amount_remaining: 1000 })

    expect(types(fake.payInvoice(invoice.id))).toEqual([
      'invoice.paid',
      'invoice.payment_succeeded',
      'customer.subscription.updated',
    ])
    expect((await stripe.subscriptions.retrieve(subscription.id)).status).toBe('active')
  })

  it('cancel_at_period_end ends the subscription at the period end; DELETE cancels now, once', async () => {
    clock = new Date('2030-07-01T00:00:00Z')
    const { subscription } = await subscribe(basic)
    await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true })
    const [updated] = fake.takeEvents()
    expect(updated?.type).toBe('customer.subscription.updated')
    expect(updated?.data.previous_attributes).toMatchObject({ cancel_at_period_end: false })
    const events = fake.advancePeriod(subscription.id)
    expect(types(events)).toEqual(['customer.subscription.deleted'])
    expect(events[0]?.data.object).toMatchObject({
      status: 'canceled',
      ended_at: seconds('2030-08-01T00:00:00Z'),
    })

    const other = await subscribe(basic)
    const canceled = await stripe.subscriptions.cancel(other.subscription.id)
    expect(canceled).toMatchObject({ status: 'canceled', ended_at: seconds('2030-07-01T00:00:00Z') })
    await expect(stripe.subscriptions.cancel(other.subscription.id)).rejects.toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
    })
  })

  it('dashboard changes produce the events without an API call', async () => {
    const { subscription } = await subscribe(basic)
    const requestCount = fake.requests.length
    const [swapped] = fake.dashboardUpdate(subscription.id, { price: pro.id })
    expect(swapped?.type).toBe('customer.subscription.updated')
    expect(swapped?.data.object).toMatchObject({ items: { data: [{ price: { id: pro.id } }] } })
    expect(types(fake.dashboardUpdate(subscription.id, { status: 'canceled' }))).toEqual([
      'customer.subscription.deleted',
    ])
    expect(fake.requests).toHaveLength(requestCount)
  })

  it('lists filter by customer and status and page with starting_after', async () => {
    const { customer, subscription } = await subscribe(basic)
    await stripe.subscriptions.cancel(subscription.id)
    expect((await stripe.subscriptions.list({ customer: customer.id })).data).toHaveLength(0)
    const all = await stripe.subscriptions.list({ customer: customer.id, status: 'all' })
    expect(all).toMatchObject({ object: 'list', has_more: false, data: [{ id: subscription.id }] })

    // Newest first: the later subscription's invoice, then this one's.
    const later = await subscribe(basic)
    const page = await stripe.invoices.list({ limit: 1 })
    expect(page).toMatchObject({ has_more: true, data: [{ id: later.subscription.latest_invoice }] })
    const next = await stripe.invoices.list({ limit: 1, starting_after: page.data[0]?.id })
    expect(next.data[0]?.id).toBe(subscription.latest_invoice)
    const own = await stripe.invoices.list({ subscription: subscription.id })
    expect(own.data.map((invoice) => invoice.id)).toEqual([subscription.latest_invoice])
  })
})

describe('webhooks', () => {
  it('signed() deliveries verify with the webhook secret at the fake clock time', async () => {
    clock = new Date('2021-09-01T00:00:00Z')
    const { events } = await subscribe(basic)
    const { payload, headers } = fake.signed(events[1]!)
    const receivedAt = clock.getTime() / 1000
    const event = stripe.webhooks.constructEvent(
      payload,
      headers['stripe-signature']!,
      fake.webhookSecret,
      undefined,
      undefined,
      receivedAt,
    )
    expect(event).toMatchObject({ id: events[1]?.id, type: 'customer.subscription.created' })
    expect(event.api_version).toBe(Stripe.API_VERSION)
    // Checked against real time, a signature from years ago is refused as a replay.
    expect(() =>
      stripe.webhooks.constructEvent(payload, headers['stripe-signature']!, fake.webhookSecret),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError)
    const forged = fake.signed(events[1]!, { secret: 'whsec_other' })
    expect(() =>
      stripe.webhooks.constructEvent(
        forged.payload,
        forged.headers['stripe-signature']!,
        fake.webhookSecret,
        undefined,
        undefined,
        receivedAt,
      ),
    ).toThrow(Stripe.errors.StripeSignatureVerificationError)
  })
})
