// A local, stateful stand-in for the Stripe API (the version the installed SDK pins): a real HTTP
// server speaking Stripe's wire format (wire.ts), holding customers, catalog, Checkout sessions,
// subscriptions and invoices shaped like the real objects (objects.ts) in a store (state.ts) that
// its endpoints (endpoints.ts) change, plus test controls (controls.ts) that play what happens
// outside the API (a customer paying at Checkout, a period renewing, a declined card, a change in
// the dashboard, an outage) and return the events Stripe would send.
import {
  createFaults,
  eventTap,
  fakeClock,
  paymentFailures,
  type SignedDelivery,
  signDelivery,
} from './controls.ts'
import { stripeRoutes } from './endpoints.ts'
import type {
  FakeCheckoutSession,
  FakeCustomer,
  FakeInvoice,
  FakePrice,
  FakeProduct,
  FakeSubscription,
  StripeEvent,
} from './objects.ts'
import { createStripeState, type DashboardChange } from './state.ts'
import { dispatch, type FakeStripeRequest, serveWire } from './wire.ts'

export type { SignedDelivery } from './controls.ts'
export type {
  FakeCheckoutSession,
  FakeCustomer,
  FakeInvoice,
  FakeInvoiceLine,
  FakeInvoiceLineInput,
  FakePrice,
  FakeProduct,
  FakeSubscription,
  FakeSubscriptionItem,
  StripeEvent,
} from './objects.ts'
export type { DashboardChange } from './state.ts'
export { type FakeStripeRequest, parseStripeForm } from './wire.ts'

export interface FakeStripeOptions {
  /** The test's clock; the default is real time. */
  now?: () => Date
}

export interface FakeStripe {
  url: string
  secretKey: string
  webhookSecret: string
  customers: Map<string, FakeCustomer>
  products: Map<string, FakeProduct>
  prices: Map<string, FakePrice>
  checkoutSessions: Map<string, FakeCheckoutSession>
  subscriptions: Map<string, FakeSubscription>
  invoices: Map<string, FakeInvoice>
  requests: FakeStripeRequest[]
  /** Every event Stripe would have sent so far, from API calls and test controls alike. */
  events: StripeEvent[]
  /** The events not returned by an earlier call, in the order they happened. */
  takeEvents(): StripeEvent[]
  /**
   * The next `count` requests (only those whose `METHOD /path` matches `match`, when given) fail:
   * answered with `status` (500 by default) before any work is done and not stored for
   * idempotent replay, or with `hangMs`, processed normally and answered hangMs later.
   */
  failNext(count: number, options?: { status?: number; hangMs?: number; match?: RegExp }): void
  /**
   * An outage: from now on every request hangs unanswered and undone (for `hangMs`, default an
   * hour, then answered 503), until `recover()`, which answers the hanging ones 503 at once.
   */
  goDown(options?: { hangMs?: number }): void
  recover(): void
  /** The customer's payments (renewals, invoiced upgrades) fail from now on, until set back. */
  setPaymentFails(customerId: string, fails: boolean): void
  /** The customer pays at Checkout: the subscription starts, trialing or active with a paid invoice. */
  completeCheckout(sessionId: string): StripeEvent[]
  /** The session expires unpaid. */
  expireCheckout(sessionId: string): StripeEvent[]
  /** The current period (or trial) ends: the subscription renews and is invoiced, or ends if set to. */
  advancePeriod(subscriptionId: string): StripeEvent[]
  /** A retried payment of an open invoice succeeds; a pending update waiting on it applies. */
  payInvoice(invoiceId: string): StripeEvent[]
  /** A change made in the dashboard or the customer portal, without an API call from the service. */
  dashboardUpdate(subscriptionId: string, change: DashboardChange): StripeEvent[]
  /** The notice Stripe sends three days before a trial ends. */
  trialWillEnd(subscriptionId: string): StripeEvent[]
  /** A webhook delivery of `event` signed like Stripe signs it, timestamped by the fake's clock. */
  signed(event: StripeEvent, options?: { secret?: string; timestamp?: number }): SignedDelivery
  close(): Promise<void>
}

export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const now = fakeClock(options.now)
  const secretKey = 'sk_test_fake'
  const webhookSecret = 'whsec_test_fake'
  const requests: FakeStripeRequest[] = []
  let url = ''
  const state = createStripeState(now, () => url)
  const routes = stripeRoutes(state)
  const faults = createFaults()
  const server = await serveWire({
    secretKey,
    requests,
    faults: faults.faults,
    run: (method, path, params, request) =>
      state.withRequest(request, () => dispatch(routes, method, path, params)),
  })
  url = server.url

  return {
    url,
    secretKey,
    webhookSecret,
    customers: state.customers,
    products: state.products,
    prices: state.prices,
    checkoutSessions: state.checkoutSessions,
    subscriptions: state.subscriptions,
    invoices: state.invoices,
    requests,
    events: state.events,
    takeEvents: eventTap(state.events),
    failNext: faults.failNext,
    goDown: faults.goDown,
    recover: faults.recover,
    setPaymentFails: paymentFailures(state),
    completeCheckout: state.completeCheckout,
    expireCheckout: state.expireCheckout,
    advancePeriod: state.advancePeriod,
    payInvoice: state.payInvoice,
    dashboardUpdate: state.dashboardUpdate,
    trialWillEnd: state.trialWillEnd,
    signed: (event, { secret = webhookSecret, timestamp = now() } = {}) =>
      signDelivery(event, secret, timestamp),
    async close() {
      faults.releaseAll()
      await server.close()
    },
  }
}
