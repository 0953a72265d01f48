// The fake's in-memory store and its transitions: what an API call or an outside event (a customer
// paying at Checkout, a period renewing, a retried payment, a change in the dashboard) does to the
// customers, catalog, sessions, subscriptions and invoices, and the events Stripe would send for it.
// Only billing events are recorded (checkout.session.*, customer.subscription.*, invoice.*);
// customer, product and price events are not, as the service's webhook does not subscribe to them.
import Stripe from 'stripe'
import {
  customerShape,
  DAY,
  type DeepPartial,
  type FakeCheckoutSession,
  type FakeCustomer,
  type FakeInvoice,
  type FakeInvoiceLineInput,
  type FakePrice,
  type FakeProduct,
  type FakeSubscription,
  type FakeSubscriptionItem,
  invoiceShape,
  itemShape,
  lineShape,
  type Metadata,
  periodEnd,
  planShape,
  previousAttributes,
  randomId,
  type StripeEvent,
  type StripeObject,
  snapshot,
  subscriptionShape,
} from './objects.ts'
import { invalid, mergeMetadata, missing, type Params, StripeFailure, str } from './wire.ts'

/** A change made in the dashboard or the customer portal, without an API call from the service. */
export type DashboardChange = { price?: string; cancel_at_period_end?: boolean; status?: 'canceled' }

/** What a Checkout session subscribes to; Stripe keeps this off the session object. */
export type SessionPlan = { price: string; quantity: number; trialDays?: number; metadata: Metadata }

export type StripeState = ReturnType<typeof createStripeState>

/** An empty store; `now` is the fake's clock in Unix seconds, `baseUrl` the server's address. */
export function createStripeState(now: () => number, baseUrl: () => string) {
  const customers = new Map<string, FakeCustomer>()
  const products = new Map<string, FakeProduct>()
  const prices = new Map<string, FakePrice>()
  const checkoutSessions = new Map<string, FakeCheckoutSession>()
  const subscriptions = new Map<string, FakeSubscription>()
  const invoices = new Map<string, FakeInvoice>()
  const events: StripeEvent[] = []

  const sessionPlans = new Map<string, SessionPlan>()
  /** Proration lines waiting for the subscription's next invoice (`create_prorations`). */
  const pendingProrations = new Map<string, FakeInvoiceLineInput[]>()
  /** The open invoice a subscription's pending update waits on. */
  const pendingUpdateInvoices = new Map<string, string>()
  /** Customers whose payments fail (see `setPaymentFails`). */
  const failingCustomers = new Set<string>()
  let invoiceCount = 0

  /** The request being handled, so the events it causes name it as Stripe's do. */
  let activeRequest: StripeEvent['request'] = { id: null, idempotency_key: null }

  /** Runs `work` as the handling of `request`. */
  function withRequest<T>(request: StripeEvent['request'], work: () => T): T {
    activeRequest = request
    try {
      return work()
    } finally {
      activeRequest = { id: null, idempotency_key: null }
    }
  }

  function emit(type: string, object: StripeObject, before?: StripeObject): StripeEvent {
    const event: StripeEvent = {
      id: randomId('evt'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: now(),
      type,
      data: {
        object: snapshot(object),
        ...(before && { previous_attributes: previousAttributes(before, object) }),
      },
      livemode: false,
      pending_webhooks: 1,
      request: { ...activeRequest },
    }
    events.push(event)
    return event
  }

  const find = <T>(map: Map<string, T>, noun: string, id: string, param = 'id'): T => {
    const found = map.get(id)
    if (!found) throw missing(noun, id, param)
    return found
  }

  function createCustomer(params: Params) {
    const customer = customerShape(randomId('cus', 14), now(), {
      email: str(params, 'email') ?? null,
      name: str(params, 'name') ?? null,
      description: str(params, 'description') ?? null,
      metadata: mergeMetadata({}, params.metadata),
    })
    customers.set(customer.id, customer)
    return customer
  }

  // -- Billing ---------------------------------------------------------------------------------

  const productName = (price: FakePrice) => products.get(price.product)?.name ?? price.id

  function setItemPrice(item: FakeSubscriptionItem, price: FakePrice) {
    item.price = snapshot(price)
    item.plan = planShape(price)
  }

  function singleItem(sub: FakeSubscription): FakeSubscriptionItem {
    const item = sub.items.data[0]
    if (!item) throw new Error(`subscription ${sub.id} has no item`)
    return item
  }

  function createSubscription(customer: string, plan: SessionPlan) {
    const price = find(prices, 'price', plan.price)
    const id = randomId('sub')
    const start = now()
    const trial = plan.trialDays ? { start, end: start + plan.trialDays * DAY } : null
    const anchor = trial?.end ?? start
    const end = trial?.end ?? periodEnd(anchor, start, price)
    const item = itemShape(randomId('si', 14), start, {
      subscription: id,
      price,
      quantity: plan.quantity,
      start,
      end,
    })
    const metadata = { ...plan.metadata }
    const sub = subscriptionShape(id, start, {
      customer,
      currency: price.currency,
      metadata,
      anchor,
      trial,
      item,
    })
    subscriptions.set(id, sub)
    return sub
  }

  /** Creates, finalizes and charges an invoice; returns it with its events, to emit in order. */
  function invoiceAndCharge(
    sub: FakeSubscription,
    reason: FakeInvoice['billing_reason'],
    lines: FakeInvoiceLineInput[],
  ) {
    const customer = find(customers, 'customer', sub.customer)
    const invoice = invoiceShape(randomId('in'), now(), { subscription: sub, customer, reason, lines })
    invoices.set(invoice.id, invoice)
    sub.latest_invoice = invoice.id
    const steps: [string, FakeInvoice][] = [['invoice.created', snapshot(invoice)]]
    invoiceCount += 1
    Object.assign(invoice, {
      status: 'open',
      number: `FAKE-${String(invoiceCount).padStart(4, '0')}`,
      effective_at: now(),
      hosted_invoice_url: `${baseUrl()}/invoices/${invoice.id}`,
      invoice_pdf: `${baseUrl()}/invoices/${invoice.id}/pdf`,
    })
    invoice.status_transitions.finalized_at = now()
    steps.push(['invoice.finalized', snapshot(invoice)])
    // A $0 invoice is paid without a payment attempt.
    if (invoice.amount_due > 0) {
      invoice.attempt_count = 1
      invoice.attempted = true
    }
    const paid = invoice.amount_due === 0 || !failingCustomers.has(sub.customer)
    if (paid) {
      markPaid(invoice)
      steps.push(['invoice.paid', invoice], ['invoice.payment_succeeded', invoice])
    } else {
      invoice.next_payment_attempt = now() + 3 * DAY
      customer.delinquent = true
      steps.push(['invoice.payment_failed', invoice])
    }
    return { invoice, paid, steps }
  }

  function markPaid(invoice: FakeInvoice) {
    invoice.status = 'paid'
    invoice.amount_paid = invoice.amount_due
    invoice.amount_remaining = 0
    invoice.next_payment_attempt = null
    invoice.status_transitions.paid_at = now()
    const customer = customers.get(invoice.customer)
    if (customer) customer.delinquent = false
  }

  function cancelNow(sub: FakeSubscription, endedAt: number) {
    sub.status = 'canceled'
    sub.ended_at = endedAt
    sub.canceled_at = sub.canceled_at ?? now()
    sub.cancel_at = null
    sub.cancellation_details = { comment: null, feedback: null, reason: 'cancellation_requested' }
    sub.pending_update = null
  }

  function setCancelAtPeriodEnd(sub: FakeSubscription, value: boolean) {
    sub.cancel_at_period_end = value
    sub.cancel_at = value ? singleItem(sub).current_period_end : null
    sub.canceled_at = value ? now() : null
    const reason = value ? 'cancellation_requested' : null
    sub.cancellation_details = { comment: null, feedback: null, reason }
  }

  /**
   * A price swap through the API. `always_invoice` charges the prorated difference at once; when
   * that payment fails, `pending_if_incomplete` keeps the old price and records the change as a
   * pending update, `error_if_incomplete` refuses it (402), and anything else applies it and
   * leaves the subscription past_due. `create_prorations` bills the difference next period.
   */
  function swapPrice(sub: FakeSubscription, item: FakeSubscriptionItem, price: FakePrice, params: Params) {
    const proration = str(params, 'proration_behavior') ?? 'create_prorations'
    const paymentBehavior = str(params, 'payment_behavior') ?? 'allow_incomplete'
    const at = now()
    const { current_period_start: start, current_period_end: end } = item
    // Trial time is free, so nothing is prorated during a trial.
    const unused = sub.status === 'trialing' ? 0 : Math.min(1, Math.max(0, (end - at) / (end - start)))
    const prorate = (target: FakeSubscriptionItem, sign: number, description: string) =>
      lineShape({
        subscription: sub.id,
        item: target,
        amount: sign * Math.round(target.price.unit_amount * target.quantity * unused),
        description,
        period: { start: at, end },
        proration: true,
      })
    const newItem = { ...item, price }
    const prorations = [
      prorate(item, -1, `Unused time on ${productName(item.price)}`),
      prorate(newItem, 1, `Remaining time on ${productName(price)}`),
    ]
    if (proration !== 'always_invoice') {
      if (proration === 'create_prorations' && unused > 0) {
        pendingProrations.set(sub.id, [...(pendingProrations.get(sub.id) ?? []), ...prorations])
      }
      setItemPrice(item, price)
      return
    }
    const due = prorations.reduce((sum, line) => sum + line.amount, 0)
    if (due > 0 && failingCustomers.has(sub.customer) && paymentBehavior === 'error_if_incomplete') {
      throw new StripeFailure(402, 'card_error', 'Your card was declined.', 'card_declined')
    }
    const { invoice, paid, steps } = invoiceAndCharge(sub, 'subscription_update', prorations)
    if (paid) {
      setItemPrice(item, price)
    } else if (paymentBehavior === 'pending_if_incomplete') {
      const pendingItem = snapshot(item)
      setItemPrice(pendingItem, price)
      sub.pending_update = {
        billing_cycle_anchor: null,
        cancel_at_period_end: null,
        discount: null,
        discounts: null,
        expires_at: at + 23 * 3600,
        metadata: null,
        subscription_items: [pendingItem],
        trial_end: null,
        trial_from_plan: null,
      } satisfies DeepPartial<Stripe.Subscription.PendingUpdate>
      pendingUpdateInvoices.set(sub.id, invoice.id)
    } else {
      setItemPrice(item, price)
      sub.status = 'past_due'
    }
    for (const [type, object] of steps) emit(type, object)
  }

  // -- Outside the API -------------------------------------------------------------------------

  function completeCheckout(sessionId: string): StripeEvent[] {
    const session = find(checkoutSessions, 'checkout session', sessionId)
    const plan = sessionPlans.get(sessionId)
    if (session.status !== 'open' || !plan) {
      throw new Error(`checkout session ${sessionId} is ${session.status}`)
    }
    const customer = session.customer
      ? find(customers, 'customer', session.customer)
      : createCustomer({ email: session.customer_email ?? '' })
    if (!plan.trialDays && failingCustomers.has(customer.id)) {
      throw new Error(`the card of ${customer.id} is declined at Checkout; the session stays open`)
    }
    const sub = createSubscription(customer.id, plan)
    const item = singleItem(sub)
    const first = lineShape({
      subscription: sub.id,
      item,
      amount: plan.trialDays ? 0 : item.price.unit_amount * item.quantity,
      description: `${plan.trialDays ? 'Trial period for ' : `${item.quantity} × `}${productName(item.price)}`,
      period: { start: item.current_period_start, end: item.current_period_end },
      proration: false,
    })
    const { invoice, steps } = invoiceAndCharge(sub, 'subscription_create', [first])
    Object.assign(session, {
      status: 'complete',
      payment_status: plan.trialDays ? 'no_payment_required' : 'paid',
      customer: customer.id,
      subscription: sub.id,
      invoice: invoice.id,
      url: null,
      customer_details: { email: customer.email, name: customer.name, phone: null, tax_exempt: 'none' },
    })
    return [
      emit('checkout.session.completed', session),
      emit('customer.subscription.created', sub),
      ...steps.map(([type, object]) => emit(type, object)),
    ]
  }

  function expireCheckout(sessionId: string): StripeEvent[] {
    const session = find(checkoutSessions, 'checkout session', sessionId)
    if (session.status !== 'open') {
      throw invalid('Only Checkout Sessions with a status of `open` can be expired.')
    }
    session.status = 'expired'
    session.url = null
    return [emit('checkout.session.expired', session)]
  }

  function advancePeriod(subscriptionId: string): StripeEvent[] {
    const sub = find(subscriptions, 'subscription', subscriptionId)
    if (sub.status === 'canceled') throw new Error(`subscription ${subscriptionId} is canceled`)
    const item = singleItem(sub)
    const before = snapshot(sub)
    if (sub.cancel_at_period_end) {
      cancelNow(sub, item.current_period_end)
      return [emit('customer.subscription.deleted', sub)]
    }
    // A pending update expires (after 23 hours) long before the period ends.
    sub.pending_update = null
    pendingUpdateInvoices.delete(sub.id)
    const start = item.current_period_end
    item.current_period_start = start
    item.current_period_end = periodEnd(sub.billing_cycle_anchor, start, item.price)
    const renewal = lineShape({
      subscription: sub.id,
      item,
      amount: item.price.unit_amount * item.quantity,
      description: `${item.quantity} × ${productName(item.price)}`,
      period: { start, end: item.current_period_end },
      proration: false,
    })
    const lines = [...(pendingProrations.get(sub.id) ?? []), renewal]
    pendingProrations.delete(sub.id)
    const { paid, steps } = invoiceAndCharge(sub, 'subscription_cycle', lines)
    sub.status = paid ? 'active' : 'past_due'
    const announced = steps.filter(([type]) => type !== 'invoice.finalized')
    return [
      ...announced.map(([type, object]) => emit(type, object)),
      emit('customer.subscription.updated', sub, before),
    ]
  }

  function payInvoice(invoiceId: string): StripeEvent[] {
    const invoice = find(invoices, 'invoice', invoiceId)
    if (invoice.status !== 'open') throw new Error(`invoice ${invoiceId} is ${invoice.status}`)
    const sub = find(subscriptions, 'subscription', invoice.subscription)
    const before = snapshot(sub)
    invoice.attempt_count += 1
    markPaid(invoice)
    const pending = sub.pending_update?.subscription_items[0]
    if (pending && pendingUpdateInvoices.get(sub.id) === invoice.id) {
      setItemPrice(singleItem(sub), pending.price)
      sub.pending_update = null
      pendingUpdateInvoices.delete(sub.id)
    }
    if (sub.status !== 'canceled') sub.status = 'active'
    return [
      emit('invoice.paid', invoice),
      emit('invoice.payment_succeeded', invoice),
      emit('customer.subscription.updated', sub, before),
    ]
  }

  function dashboardUpdate(subscriptionId: string, change: DashboardChange): StripeEvent[] {
    const sub = find(subscriptions, 'subscription', subscriptionId)
    if (sub.status === 'canceled') throw new Error(`subscription ${subscriptionId} is canceled`)
    const before = snapshot(sub)
    if (change.status === 'canceled') {
      cancelNow(sub, now())
      return [emit('customer.subscription.deleted', sub)]
    }
    if (change.price) setItemPrice(singleItem(sub), find(prices, 'price', change.price))
    if (change.cancel_at_period_end !== undefined) setCancelAtPeriodEnd(sub, change.cancel_at_period_end)
    return [emit('customer.subscription.updated', sub, before)]
  }

  function trialWillEnd(subscriptionId: string): StripeEvent[] {
    const sub = find(subscriptions, 'subscription', subscriptionId)
    if (sub.status !== 'trialing') throw new Error(`subscription ${subscriptionId} is ${sub.status}`)
    return [emit('customer.subscription.trial_will_end', sub)]
  }

  return {
    now,
    baseUrl,
    customers,
    products,
    prices,
    checkoutSessions,
    subscriptions,
    invoices,
    events,
    sessionPlans,
    failingCustomers,
    withRequest,
    emit,
    find,
    createCustomer,
    swapPrice,
    cancelNow,
    setCancelAtPeriodEnd,
    completeCheckout,
    expireCheckout,
    advancePeriod,
    payInvoice,
    dashboardUpdate,
    trialWillEnd,
  }
}
