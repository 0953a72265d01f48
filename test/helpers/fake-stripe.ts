// A local, stateful stand-in for the Stripe API (the version the installed SDK pins): a real HTTP
// server speaking Stripe's wire format (form-encoded bodies with `a[b][0][c]` keys, JSON answers,
// `{ error: { type, message, code } }` failures, Idempotency-Key replay), holding customers,
// catalog, Checkout sessions, subscriptions and invoices shaped like the real objects, plus test
// controls that play what happens outside the API (a customer paying at Checkout, a period
// renewing, a declined card, a change in the dashboard) and return the events Stripe would send.
// Only billing events are recorded (checkout.session.*, customer.subscription.*, invoice.*);
// customer, product and price events are not, as the service's webhook does not subscribe to them.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Stripe from 'stripe'

export interface FakeStripeOptions {
  /** The test's clock; the default is real time. */
  now?: () => Date
}

type Metadata = Record<string, string>
type Interval = 'day' | 'week' | 'month' | 'year'

/** Every field a fake object holds; the interfaces below name the ones the fake itself reads. */
interface StripeObject {
  id: string
  object: string
  [field: string]: unknown
}

export interface FakeCustomer extends StripeObject {
  object: 'customer'
  email: string | null
  name: string | null
  metadata: Metadata
  delinquent: boolean
}

export interface FakeProduct extends StripeObject {
  object: 'product'
  name: string
  active: boolean
  description: string | null
  metadata: Metadata
  updated: number
}

export interface FakePrice extends StripeObject {
  object: 'price'
  product: string
  active: boolean
  currency: string
  unit_amount: number
  lookup_key: string | null
  metadata: Metadata
  recurring: { interval: Interval; interval_count: number; [field: string]: unknown } | null
}

export interface FakeSubscriptionItem extends StripeObject {
  object: 'subscription_item'
  price: FakePrice
  quantity: number
  current_period_start: number
  current_period_end: number
}

export interface FakeSubscription extends StripeObject {
  object: 'subscription'
  customer: string
  status: 'trialing' | 'active' | 'past_due' | 'canceled'
  currency: string
  metadata: Metadata
  billing_cycle_anchor: number
  items: { object: 'list'; data: FakeSubscriptionItem[]; has_more: false; url: string }
  cancel_at_period_end: boolean
  cancel_at: number | null
  canceled_at: number | null
  ended_at: number | null
  trial_end: number | null
  latest_invoice: string | null
  pending_update: {
    expires_at: number
    subscription_items: FakeSubscriptionItem[]
    [field: string]: unknown
  } | null
}

/** An invoice line before it is put on an invoice. */
export interface FakeInvoiceLineInput {
  amount: number
  description: string
  period: { start: number; end: number }
  [field: string]: unknown
}

export interface FakeInvoiceLine extends FakeInvoiceLineInput {
  id: string
  object: 'line_item'
  invoice: string
}

export interface FakeInvoice extends StripeObject {
  object: 'invoice'
  customer: string
  subscription: string
  status: 'draft' | 'open' | 'paid'
  billing_reason: 'subscription_create' | 'subscription_cycle' | 'subscription_update'
  amount_due: number
  amount_paid: number
  amount_remaining: number
  attempt_count: number
  attempted: boolean
  number: string | null
  next_payment_attempt: number | null
  status_transitions: { finalized_at: number | null; paid_at: number | null; [field: string]: unknown }
  lines: { object: 'list'; data: FakeInvoiceLine[]; has_more: false; url: string }
}

export interface FakeCheckoutSession extends StripeObject {
  object: 'checkout.session'
  status: 'open' | 'complete' | 'expired'
  customer: string | null
  customer_email: string | null
  metadata: Metadata
  subscription: string | null
  invoice: string | null
}

export interface StripeEvent {
  id: string
  object: 'event'
  api_version: string
  created: number
  type: string
  data: { object: StripeObject; previous_attributes?: Record<string, unknown> }
  livemode: false
  pending_webhooks: number
  request: { id: string | null; idempotency_key: string | null }
}

export interface FakeStripeRequest {
  method: string
  path: string
  idempotencyKey?: string
  /** The form body of a POST, the query of other methods, decoded into nested objects and arrays. */
  body: Record<string, unknown>
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

export type DashboardChange = { price?: string; cancel_at_period_end?: boolean; status?: 'canceled' }
export type SignedDelivery = { payload: string; headers: Record<string, string> }

// ---------------------------------------------------------------------------------------------
// Wire format

type Param = string | Param[] | Params
interface Params {
  [key: string]: Param
}

const isParams = (value: Param | undefined): value is Params =>
  typeof value === 'object' && !Array.isArray(value)

/** Decodes `a[b][0][c]=v` pairs into nested objects; objects keyed 0..n-1 become arrays. */
export function parseStripeForm(text: string): Params {
  const root: Params = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.replace(/\]/g, '').split('[')
    const last = path.pop() ?? ''
    let node = root
    for (const segment of path) {
      const next = node[segment]
      if (!isParams(next)) node[segment] = {}
      node = node[segment] as Params
    }
    node[last] = value
  }
  const arrays = (value: Param): Param => {
    if (!isParams(value)) return value
    const keys = Object.keys(value)
    const converted = Object.fromEntries(keys.map((key) => [key, arrays(value[key] as Param)]))
    const indexed = keys.length > 0 && keys.every((key, i) => key === String(i))
    return indexed ? Object.values(converted) : converted
  }
  return arrays(root) as Params
}

const str = (params: Params, key: string): string | undefined => {
  const value = params[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}
const int = (params: Params, key: string): number | undefined => {
  const value = str(params, key)
  return value === undefined ? undefined : Number.parseInt(value, 10)
}
const bool = (params: Params, key: string): boolean | undefined => {
  const value = str(params, key)
  return value === undefined ? undefined : value === 'true'
}
const dict = (params: Params, key: string): Params => {
  const value = params[key]
  return isParams(value) ? value : {}
}
const first = (params: Params, key: string): Params => {
  const value = params[key]
  return Array.isArray(value) && isParams(value[0]) ? value[0] : {}
}

/** Stripe's metadata update: keys set to '' are removed, `metadata=` clears all. */
function mergeMetadata(current: Metadata, param: Param | undefined): Metadata {
  if (param === undefined) return current
  if (!isParams(param)) return {}
  const merged = { ...current }
  for (const [key, value] of Object.entries(param)) {
    if (value === '') delete merged[key]
    else if (typeof value === 'string') merged[key] = value
  }
  return merged
}

/** An error Stripe would answer with; `type` and the status pick the error class the SDK raises. */
class StripeFailure extends Error {
  constructor(
    readonly status: number,
    readonly type: 'invalid_request_error' | 'card_error' | 'idempotency_error' | 'api_error',
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message)
  }

  toJSON() {
    return { error: { type: this.type, message: this.message, code: this.code, param: this.param } }
  }
}

const missing = (noun: string, id: string, param = 'id') =>
  new StripeFailure(404, 'invalid_request_error', `No such ${noun}: '${id}'`, 'resource_missing', param)
const invalid = (message: string, param?: string) =>
  new StripeFailure(400, 'invalid_request_error', message, undefined, param)

// ---------------------------------------------------------------------------------------------
// Ids and time

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const randomId = (prefix: string, length = 24) =>
  `${prefix}_${Array.from(randomBytes(length), (byte) => ALPHABET[byte % ALPHABET.length]).join('')}`

const DAY = 86_400

/** `anchor` moved by `count` intervals; months are calendar months in UTC, clamped to short months. */
function addIntervals(anchor: number, interval: Interval, count: number): number {
  if (interval === 'day') return anchor + count * DAY
  if (interval === 'week') return anchor + count * 7 * DAY
  const date = new Date(anchor * 1000)
  const month = date.getUTCMonth() + (interval === 'year' ? 12 * count : count)
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), month + 1, 0)).getUTCDate()
  const day = Math.min(date.getUTCDate(), lastDay)
  const time = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()] as const
  return Date.UTC(date.getUTCFullYear(), month, day, ...time) / 1000
}

/** The end of the period starting at `start`: the first billing date after it, counted from the anchor. */
function periodEnd(anchor: number, start: number, price: FakePrice): number {
  const { interval, interval_count } = price.recurring ?? { interval: 'month', interval_count: 1 }
  for (let n = 1; ; n++) {
    const end = addIntervals(anchor, interval, n * interval_count)
    if (end > start) return end
  }
}

/** The top-level fields of `after` that differ from `before`, with their old values. */
function previousAttributes(before: StripeObject, after: StripeObject): Record<string, unknown> {
  const changed: Record<string, unknown> = {}
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed[key] = before[key] ?? null
  }
  return changed
}

const snapshot = <T>(object: T): T => structuredClone(object)

// ---------------------------------------------------------------------------------------------
// Object shapes, as the API returns them. Fields the fake gives no behaviour keep their usual
// defaults; `satisfies` checks every field name and type against the SDK's definitions.

/** Checks a fake object against the SDK's type field by field, without requiring every field. */
type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T

type CustomerInput = {
  email: string | null
  name: string | null
  description: string | null
  metadata: Metadata
}

// biome-ignore format: many plain fields, grouped by line
function customerShape(id: string, created: number, input: CustomerInput): FakeCustomer {
  return {
    id, object: 'customer', created, livemode: false, ...input,
    address: null, balance: 0, currency: null, customer_account: null, default_source: null,
    delinquent: false, discount: null, invoice_prefix: id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    next_invoice_sequence: 1, phone: null, preferred_locales: [], shipping: null, tax_exempt: 'none', test_clock: null,
  } satisfies DeepPartial<Stripe.Customer>
}

// biome-ignore format: many plain fields, grouped by line
function productShape(id: string, created: number, name: string): FakeProduct {
  return {
    id, object: 'product', created, updated: created, livemode: false, name, active: true,
    description: null, metadata: {}, default_price: null, images: [], marketing_features: [],
    package_dimensions: null, shippable: null, statement_descriptor: null, tax_code: null,
    type: 'service', unit_label: null, url: null,
  } satisfies DeepPartial<Stripe.Product>
}

type PriceInput = Pick<
  FakePrice,
  'product' | 'active' | 'currency' | 'unit_amount' | 'lookup_key' | 'metadata'
> & {
  nickname: string | null
  interval?: Interval
  interval_count: number
}

// biome-ignore format: many plain fields, grouped by line
function priceShape(id: string, created: number, { interval, interval_count, ...input }: PriceInput): FakePrice {
  return {
    id, object: 'price', created, livemode: false, ...input,
    billing_scheme: 'per_unit', custom_unit_amount: null, tax_behavior: 'unspecified', tiers_mode: null,
    transform_quantity: null, type: interval ? 'recurring' : 'one_time', unit_amount_decimal: String(input.unit_amount),
    recurring: interval
      ? { interval, interval_count, meter: null, trial_period_days: null, usage_type: 'licensed' }
      : null,
  } satisfies DeepPartial<Stripe.Price>
}

/** The pre-Prices view of a recurring price that subscription items still carry. */
// biome-ignore format: many plain fields, grouped by line
function planShape(price: FakePrice) {
  return {
    id: price.id, object: 'plan', created: price.created as number, livemode: false, active: price.active,
    amount: price.unit_amount, amount_decimal: String(price.unit_amount), billing_scheme: 'per_unit',
    currency: price.currency, interval: price.recurring?.interval ?? 'month',
    interval_count: price.recurring?.interval_count ?? 1, metadata: price.metadata, meter: null, nickname: null,
    product: price.product, tiers_mode: null, transform_usage: null, trial_period_days: null, usage_type: 'licensed',
  } satisfies DeepPartial<Stripe.Plan>
}

type ItemInput = { subscription: string; price: FakePrice; quantity: number; start: number; end: number }

// biome-ignore format: many plain fields, grouped by line
function itemShape(id: string, created: number, { subscription, price, quantity, start, end }: ItemInput): FakeSubscriptionItem {
  return {
    id, object: 'subscription_item', created, subscription, price: snapshot(price), plan: planShape(price), quantity,
    current_period_start: start, current_period_end: end,
    billing_thresholds: null, discounts: [], metadata: {}, tax_rates: [],
  } satisfies DeepPartial<Stripe.SubscriptionItem>
}

type SubscriptionInput = {
  customer: string
  currency: string
  metadata: Metadata
  anchor: number
  trial: { start: number; end: number } | null
  item: FakeSubscriptionItem
}

// biome-ignore format: many plain fields, grouped by line
function subscriptionShape(id: string, created: number, { customer, currency, metadata, anchor, trial, item }: SubscriptionInput): FakeSubscription {
  return {
    id, object: 'subscription', created, start_date: created, livemode: false, customer, currency, metadata,
    status: trial ? 'trialing' : 'active', trial_start: trial?.start ?? null, trial_end: trial?.end ?? null,
    items: { object: 'list', data: [item], has_more: false, url: `/v1/subscription_items?subscription=${id}` },
    billing_cycle_anchor: anchor, billing_cycle_anchor_config: null, latest_invoice: null, pending_update: null,
    cancel_at: null, cancel_at_period_end: false, canceled_at: null, ended_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    billing_mode: { flexible: { proration_discounts: 'included' }, type: 'flexible', updated_at: created },
    collection_method: 'charge_automatically', days_until_due: null, default_payment_method: null,
    default_source: null, default_tax_rates: [], description: null, discounts: [],
    application: null, application_fee_percent: null, customer_account: null, on_behalf_of: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    next_pending_invoice_item_invoice: null, pause_collection: null, pending_invoice_item_interval: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_setup_intent: null, schedule: null, test_clock: null, transfer_data: null,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
  } satisfies DeepPartial<Stripe.Subscription>
}

type LineInput = {
  subscription: string
  item: FakeSubscriptionItem
  amount: number
  description: string
  period: { start: number; end: number }
  proration: boolean
}

// biome-ignore format: many plain fields, grouped by line
function lineShape({ subscription, item, amount, description, period, proration }: LineInput): FakeInvoiceLineInput {
  return {
    amount, subtotal: amount, currency: item.price.currency, description, period, quantity: item.quantity, subscription,
    livemode: false, metadata: {}, discount_amounts: [], discountable: !proration, discounts: [],
    pretax_credit_amounts: [], taxes: [],
    parent: {
      type: 'subscription_item_details', invoice_item_details: null,
      subscription_item_details: {
        invoice_item: null, proration, proration_details: { credited_items: null }, subscription, subscription_item: item.id,
      },
    },
    pricing: {
      type: 'price_details', price_details: { price: item.price.id, product: item.price.product },
      unit_amount_decimal: String(item.price.unit_amount),
    },
  } satisfies DeepPartial<Stripe.InvoiceLineItem>
}

type InvoiceInput = {
  subscription: FakeSubscription
  customer: FakeCustomer
  reason: FakeInvoice['billing_reason']
  lines: FakeInvoiceLineInput[]
}

// biome-ignore format: many plain fields, grouped by line
function invoiceShape(id: string, created: number, { subscription, customer, reason, lines }: InvoiceInput): FakeInvoice {
  const total = lines.reduce((sum, line) => sum + line.amount, 0)
  // A credit larger than the charges leaves nothing to pay (Stripe credits the customer balance).
  const due = Math.max(0, total)
  const period = lines.at(-1)?.period ?? { start: created, end: created }
  const shape = {
    id, object: 'invoice', created, livemode: false, status: 'draft', billing_reason: reason,
    customer: customer.id, customer_email: customer.email, customer_name: customer.name, currency: subscription.currency,
    parent: {
      type: 'subscription_details', quote_details: null,
      subscription_details: { metadata: snapshot(subscription.metadata), subscription: subscription.id },
    },
    lines: {
      object: 'list', has_more: false, url: `/v1/invoices/${id}/lines`,
      data: lines.map((line) => ({ ...line, id: randomId('il'), object: 'line_item', invoice: id })),
    },
    period_start: period.start, period_end: period.end,
    subtotal: total, subtotal_excluding_tax: total, total, total_excluding_tax: total,
    amount_due: due, amount_paid: 0, amount_remaining: due, amount_overpaid: 0, amount_shipping: 0,
    attempt_count: 0, attempted: false, auto_advance: true, next_payment_attempt: null,
    number: null, effective_at: null, hosted_invoice_url: null, invoice_pdf: null,
    status_transitions: { finalized_at: null, marked_uncollectible_at: null, paid_at: null, voided_at: null },
    account_country: 'US', account_name: 'Fake Stripe', account_tax_ids: null, application: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null, provider: null, status: null },
    automatically_finalizes_at: null, collection_method: 'charge_automatically', custom_fields: null,
    customer_account: null, customer_address: null, customer_phone: null, customer_shipping: null,
    customer_tax_exempt: 'none', customer_tax_ids: [], default_payment_method: null, default_source: null,
    default_tax_rates: [], description: null, discounts: [], due_date: null, ending_balance: null, footer: null,
    from_invoice: null, issuer: { type: 'self' }, last_finalization_error: null, latest_revision: null,
    metadata: {}, on_behalf_of: null,
    payment_settings: { default_mandate: null, payment_method_options: null, payment_method_types: null },
    post_payment_credit_notes_amount: 0, pre_payment_credit_notes_amount: 0, receipt_number: null,
    rendering: null, shipping_cost: null, shipping_details: null, starting_balance: 0,
    statement_descriptor: null, test_clock: null, total_discount_amounts: [], total_pretax_credit_amounts: [],
    total_taxes: [], webhooks_delivered_at: null,
  } satisfies DeepPartial<Stripe.Invoice>
  // Older API versions had the subscription id at the top level; kept for readers of either.
  return { ...shape, subscription: subscription.id }
}

type SessionInput = Pick<FakeCheckoutSession, 'customer' | 'customer_email' | 'metadata'> & {
  url: string
  currency: string
  amount: number
  expires_at: number
  success_url: string | null
  cancel_url: string | null
  client_reference_id: string | null
}

// biome-ignore format: many plain fields, grouped by line
function checkoutSessionShape(id: string, created: number, { amount, ...input }: SessionInput): FakeCheckoutSession {
  return {
    id, object: 'checkout.session', created, livemode: false, mode: 'subscription', status: 'open', ...input,
    amount_subtotal: amount, amount_total: amount, payment_status: 'unpaid', subscription: null, invoice: null,
    customer_creation: input.customer ? null : 'always', customer_details: null, ui_mode: 'hosted',
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    adaptive_pricing: null, after_expiration: null, allow_promotion_codes: null,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null, client_secret: null, consent: null, consent_collection: null,
    custom_fields: [], custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    discounts: [], invoice_creation: null, locale: null, payment_intent: null, payment_link: null,
    payment_method_collection: 'always', payment_method_configuration_details: null, payment_method_options: {},
    payment_method_types: ['card'], phone_number_collection: { enabled: false }, recovered_from: null,
    saved_payment_method_options: null, setup_intent: null, shipping_address_collection: null,
    shipping_cost: null, shipping_options: [], submit_type: null,
  } satisfies DeepPartial<Stripe.Checkout.Session>
}

// biome-ignore format: many plain fields, grouped by line
function portalSessionShape(id: string, created: number, customer: string, url: string, returnUrl: string | null) {
  return {
    id, object: 'billing_portal.session', created, livemode: false, customer, url, return_url: returnUrl,
    configuration: 'bpc_fake_default', customer_account: null, flow: null, locale: null, on_behalf_of: null,
  } satisfies DeepPartial<Stripe.BillingPortal.Session>
}

// ---------------------------------------------------------------------------------------------
// The server

export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const clock = options.now ?? (() => new Date())
  const now = () => Math.floor(clock().getTime() / 1000)
  const secretKey = 'sk_test_fake'
  const webhookSecret = 'whsec_test_fake'

  const customers = new Map<string, FakeCustomer>()
  const products = new Map<string, FakeProduct>()
  const prices = new Map<string, FakePrice>()
  const checkoutSessions = new Map<string, FakeCheckoutSession>()
  const subscriptions = new Map<string, FakeSubscription>()
  const invoices = new Map<string, FakeInvoice>()
  const requests: FakeStripeRequest[] = []
  const events: StripeEvent[] = []
  let eventsTaken = 0

  /** What a Checkout session subscribes to; Stripe keeps this off the session object. */
  type SessionPlan = { price: string; quantity: number; trialDays?: number; metadata: Metadata }
  const sessionPlans = new Map<string, SessionPlan>()
  /** Proration lines waiting for the subscription's next invoice (`create_prorations`). */
  const pendingProrations = new Map<string, FakeInvoiceLineInput[]>()
  /** The open invoice a subscription's pending update waits on. */
  const pendingUpdateInvoices = new Map<string, string>()
  const failingCustomers = new Set<string>()
  const failures: { count: number; status: number; hangMs?: number; match?: RegExp }[] = []
  const idempotent = new Map<string, { fingerprint: string; status: number; body: string }>()
  const hanging = new Set<() => void>()
  let outage: { hangMs: number } | null = null
  let invoiceCount = 0

  /** The request being handled, so the events it causes name it as Stripe's do. */
  let activeRequest: StripeEvent['request'] = { id: null, idempotency_key: null }

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
      hosted_invoice_url: `${url}/invoices/${invoice.id}`,
      invoice_pdf: `${url}/invoices/${invoice.id}/pdf`,
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

  // -- Test controls ---------------------------------------------------------------------------

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

  // -- Endpoints -------------------------------------------------------------------------------

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

  function updateCustomer(customer: FakeCustomer, params: Params) {
    customer.email = str(params, 'email') ?? customer.email
    customer.name = str(params, 'name') ?? customer.name
    customer.metadata = mergeMetadata(customer.metadata, params.metadata)
    return customer
  }

  function updateProduct(product: FakeProduct, params: Params) {
    product.name = str(params, 'name') ?? product.name
    product.description = str(params, 'description') ?? product.description
    product.active = bool(params, 'active') ?? product.active
    product.metadata = mergeMetadata(product.metadata, params.metadata)
    product.updated = now()
    return product
  }

  function createProduct(params: Params) {
    const name = str(params, 'name')
    if (!name) throw invalid('Missing required param: name.', 'name')
    const product = productShape(randomId('prod', 14), now(), name)
    products.set(product.id, updateProduct(product, params))
    return product
  }

  function createPrice(params: Params) {
    const product = str(params, 'product')
    if (!product) throw invalid('Missing required param: product.', 'product')
    find(products, 'product', product, 'product')
    const unitAmount = int(params, 'unit_amount')
    if (unitAmount === undefined || unitAmount < 0) throw invalid('Invalid unit_amount.', 'unit_amount')
    const currency = str(params, 'currency')
    if (!currency) throw invalid('Missing required param: currency.', 'currency')
    const recurring = dict(params, 'recurring')
    const interval = str(recurring, 'interval')
    if (interval && !['day', 'week', 'month', 'year'].includes(interval)) {
      throw invalid(`Invalid recurring[interval]: ${interval}`, 'recurring[interval]')
    }
    const price = priceShape(randomId('price'), now(), {
      product,
      active: bool(params, 'active') ?? true,
      currency: currency.toLowerCase(),
      unit_amount: unitAmount,
      metadata: mergeMetadata({}, params.metadata),
      lookup_key: str(params, 'lookup_key') ?? null,
      nickname: str(params, 'nickname') ?? null,
      interval: interval as Interval | undefined,
      interval_count: int(recurring, 'interval_count') ?? 1,
    })
    prices.set(price.id, price)
    return price
  }

  function updatePrice(price: FakePrice, params: Params) {
    price.active = bool(params, 'active') ?? price.active
    price.metadata = mergeMetadata(price.metadata, params.metadata)
    price.lookup_key = str(params, 'lookup_key') ?? price.lookup_key
    return price
  }

  function createCheckoutSession(params: Params) {
    if (str(params, 'mode') !== 'subscription') {
      throw invalid('This fake supports mode=subscription only.', 'mode')
    }
    const customer = str(params, 'customer') ?? null
    if (customer) find(customers, 'customer', customer, 'customer')
    const lineItem = first(params, 'line_items')
    const priceId = str(lineItem, 'price')
    if (!priceId) throw invalid('Missing required param: line_items[0][price].', 'line_items[0][price]')
    const price = find(prices, 'price', priceId, 'line_items[0][price]')
    if (!price.active) throw invalid(`The price specified (${priceId}) is inactive.`, 'line_items[0][price]')
    if (!price.recurring) throw invalid('Subscription mode needs a recurring price.', 'line_items[0][price]')
    const quantity = int(lineItem, 'quantity') ?? 1
    const subscriptionData = dict(params, 'subscription_data')
    const trialDays = int(subscriptionData, 'trial_period_days')
    const id = randomId('cs_test', 58)
    const session = checkoutSessionShape(id, now(), {
      url: `${url}/checkout/${id}`,
      customer,
      customer_email: str(params, 'customer_email') ?? null,
      metadata: mergeMetadata({}, params.metadata),
      currency: price.currency,
      amount: trialDays ? 0 : price.unit_amount * quantity,
      expires_at: now() + DAY,
      success_url: str(params, 'success_url') ?? null,
      cancel_url: str(params, 'cancel_url') ?? null,
      client_reference_id: str(params, 'client_reference_id') ?? null,
    })
    checkoutSessions.set(id, session)
    const metadata = mergeMetadata({}, subscriptionData.metadata)
    sessionPlans.set(id, { price: priceId, quantity, trialDays, metadata })
    return session
  }

  function updateSubscription(id: string, params: Params) {
    const sub = find(subscriptions, 'subscription', id)
    if (sub.status === 'canceled') {
      throw invalid('A canceled subscription can only update its cancellation_details and metadata.')
    }
    const before = snapshot(sub)
    const change = first(params, 'items')
    const priceId = str(change, 'price')
    if (priceId) {
      const itemId = str(change, 'id') ?? ''
      const item = sub.items.data.find((candidate) => candidate.id === itemId)
      if (!item) throw missing('subscription item', itemId, 'items[0][id]')
      const price = find(prices, 'price', priceId, 'items[0][price]')
      if (!price.active) throw invalid(`The price specified (${priceId}) is inactive.`, 'items[0][price]')
      if (price.id !== item.price.id) swapPrice(sub, item, price, params)
    }
    sub.metadata = mergeMetadata(sub.metadata, params.metadata)
    const cancelAtPeriodEnd = bool(params, 'cancel_at_period_end')
    if (cancelAtPeriodEnd !== undefined && cancelAtPeriodEnd !== sub.cancel_at_period_end) {
      setCancelAtPeriodEnd(sub, cancelAtPeriodEnd)
    }
    // Like Stripe, an update that changes nothing sends no event.
    if (Object.keys(previousAttributes(before, sub)).length > 0) {
      emit('customer.subscription.updated', sub, before)
    }
    return sub
  }

  function cancelSubscription(id: string) {
    const sub = find(subscriptions, 'subscription', id)
    if (sub.status === 'canceled') throw invalid(`The subscription ${id} has already been canceled.`)
    cancelNow(sub, now())
    emit('customer.subscription.deleted', sub)
    return sub
  }

  /** Stripe's list object, newest first, paged with `limit` and `starting_after`. */
  function list<T extends StripeObject>(path: string, items: T[], params: Params) {
    const newestFirst = [...items].reverse()
    const after = str(params, 'starting_after')
    const from = after ? newestFirst.findIndex((item) => item.id === after) + 1 : 0
    const limit = Math.min(100, Math.max(1, int(params, 'limit') ?? 10))
    const data = newestFirst.slice(from, from + limit)
    return { object: 'list', data, has_more: from + limit < newestFirst.length, url: path }
  }

  function listSubscriptions(params: Params) {
    const customer = str(params, 'customer')
    const status = str(params, 'status')
    // Without a status filter, Stripe leaves canceled subscriptions out.
    const statusMatches = (sub: FakeSubscription) =>
      status === 'all' || (status ? sub.status === status : sub.status !== 'canceled')
    const matching = [...subscriptions.values()].filter(
      (sub) => (!customer || sub.customer === customer) && statusMatches(sub),
    )
    return list('/v1/subscriptions', matching, params)
  }

  function listInvoices(params: Params) {
    const customer = str(params, 'customer')
    const subscription = str(params, 'subscription')
    const status = str(params, 'status')
    const matching = [...invoices.values()].filter(
      (invoice) =>
        (!customer || invoice.customer === customer) &&
        (!subscription || invoice.subscription === subscription) &&
        (!status || invoice.status === status),
    )
    return list('/v1/invoices', matching, params)
  }

  function createPortalSession(params: Params) {
    const customer = str(params, 'customer')
    if (!customer) throw invalid('Missing required param: customer.', 'customer')
    find(customers, 'customer', customer, 'customer')
    const id = randomId('bps')
    return portalSessionShape(id, now(), customer, `${url}/portal/${id}`, str(params, 'return_url') ?? null)
  }

  type Handler = (params: Params, id: string) => unknown
  const routes: [method: string, path: RegExp, handler: Handler][] = [
    ['POST', /^\/v1\/customers$/, createCustomer],
    ['GET', /^\/v1\/customers\/([^/]+)$/, (_, id) => find(customers, 'customer', id)],
    [
      'POST',
      /^\/v1\/customers\/([^/]+)$/,
      (params, id) => updateCustomer(find(customers, 'customer', id), params),
    ],
    ['POST', /^\/v1\/products$/, createProduct],
    ['GET', /^\/v1\/products\/([^/]+)$/, (_, id) => find(products, 'product', id)],
    [
      'POST',
      /^\/v1\/products\/([^/]+)$/,
      (params, id) => updateProduct(find(products, 'product', id), params),
    ],
    ['POST', /^\/v1\/prices$/, createPrice],
    ['GET', /^\/v1\/prices\/([^/]+)$/, (_, id) => find(prices, 'price', id)],
    ['POST', /^\/v1\/prices\/([^/]+)$/, (params, id) => updatePrice(find(prices, 'price', id), params)],
    ['POST', /^\/v1\/checkout\/sessions$/, createCheckoutSession],
    ['GET', /^\/v1\/checkout\/sessions\/([^/]+)$/, (_, id) => find(checkoutSessions, 'checkout session', id)],
    ['POST', /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/, (_, id) => expireCheckout(id)[0]?.data.object],
    ['GET', /^\/v1\/subscriptions$/, listSubscriptions],
    ['GET', /^\/v1\/subscriptions\/([^/]+)$/, (_, id) => find(subscriptions, 'subscription', id)],
    ['POST', /^\/v1\/subscriptions\/([^/]+)$/, (params, id) => updateSubscription(id, params)],
    ['DELETE', /^\/v1\/subscriptions\/([^/]+)$/, (_, id) => cancelSubscription(id)],
    ['GET', /^\/v1\/invoices$/, listInvoices],
    ['GET', /^\/v1\/invoices\/([^/]+)$/, (_, id) => find(invoices, 'invoice', id)],
    ['POST', /^\/v1\/billing_portal\/sessions$/, createPortalSession],
  ]

  // -- HTTP ------------------------------------------------------------------------------------

  type Answer = { status: number; body: string }

  /** Runs the matching endpoint; Stripe's refusals become their status and error body. */
  function dispatch(method: string, path: string, params: Params): Answer {
    for (const [routeMethod, pattern, handler] of routes) {
      const match = routeMethod === method ? pattern.exec(path) : null
      if (!match) continue
      try {
        return { status: 200, body: JSON.stringify(handler(params, decodeURIComponent(match[1] ?? ''))) }
      } catch (error) {
        if (!(error instanceof StripeFailure)) throw error
        return { status: error.status, body: JSON.stringify(error) }
      }
    }
    return { status: 404, body: JSON.stringify(invalid(`Unrecognized request URL (${method}: ${path}).`)) }
  }

  function takeFailure(route: string) {
    const index = failures.findIndex((failure) => !failure.match || failure.match.test(route))
    const failure = failures[index]
    if (!failure) return undefined
    failure.count -= 1
    if (failure.count <= 0) failures.splice(index, 1)
    return failure
  }

  /** Like Stripe: a key seen before replays the first answer, and refuses different parameters. */
  function answerOnce(key: string | undefined, fingerprint: string, run: () => Answer) {
    const seen = key ? idempotent.get(key) : undefined
    if (seen && seen.fingerprint !== fingerprint) {
      const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`
      return {
        replayed: false,
        status: 400,
        body: JSON.stringify(new StripeFailure(400, 'idempotency_error', message)),
      }
    }
    if (seen) return { replayed: true, ...seen }
    const answer = run()
    if (key) idempotent.set(key, { fingerprint, ...answer })
    return { replayed: false, ...answer }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const target = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    const path = target.pathname
    const params = parseStripeForm(method === 'POST' ? raw : target.search.slice(1))
    const header = req.headers['idempotency-key']
    const idempotencyKey = typeof header === 'string' ? header : undefined
    requests.push({ method, path, ...(idempotencyKey && { idempotencyKey }), body: params })
    const requestId = randomId('req', 14)
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      if (res.destroyed || res.writableEnded) return
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': requestId,
        'stripe-version': Stripe.API_VERSION,
        ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
        ...extra,
      })
      res.end(body)
    }

    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      return send(
        401,
        JSON.stringify(new StripeFailure(401, 'invalid_request_error', 'Invalid API Key provided.')),
      )
    }
    if (outage) {
      const hangMs = outage.hangMs
      await new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer)
          hanging.delete(release)
          resolve()
        }
        const timer = setTimeout(release, hangMs)
        hanging.add(release)
      })
      return send(503, JSON.stringify(new StripeFailure(503, 'api_error', 'Fake Stripe is down')))
    }
    const failure = takeFailure(`${method} ${path}`)
    if (failure && failure.hangMs === undefined) {
      return send(
        failure.status,
        JSON.stringify(new StripeFailure(failure.status, 'api_error', 'Fake Stripe failure')),
      )
    }
    const key = method === 'POST' ? idempotencyKey : undefined
    const answer = answerOnce(key, `${method} ${path} ${raw}`, () => {
      activeRequest = { id: requestId, idempotency_key: idempotencyKey ?? null }
      try {
        return dispatch(method, path, params)
      } finally {
        activeRequest = { id: null, idempotency_key: null }
      }
    })
    if (failure?.hangMs !== undefined) {
      // The work is done and stored for replay; only the answer is late.
      const hangMs = failure.hangMs
      await new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer)
          hanging.delete(release)
          resolve()
        }
        const timer = setTimeout(release, hangMs)
        hanging.add(release)
      })
    }
    send(answer.status, answer.body, answer.replayed ? { 'idempotent-replayed': 'true' } : {})
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const failure = new StripeFailure(500, 'api_error', `Fake Stripe crashed: ${String(error)}`)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify(failure))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    secretKey,
    webhookSecret,
    customers,
    products,
    prices,
    checkoutSessions,
    subscriptions,
    invoices,
    requests,
    events,
    takeEvents() {
      const taken = events.slice(eventsTaken)
      eventsTaken = events.length
      return taken
    },
    failNext(count, { status = 500, hangMs, match } = {}) {
      failures.push({ count, status, hangMs, match })
    },
    goDown({ hangMs = 3_600_000 } = {}) {
      outage = { hangMs }
    },
    recover() {
      outage = null
      for (const release of [...hanging]) release()
    },
    setPaymentFails(customerId, fails) {
      if (fails) failingCustomers.add(customerId)
      else failingCustomers.delete(customerId)
    },
    completeCheckout,
    expireCheckout,
    advancePeriod,
    payInvoice,
    dashboardUpdate,
    trialWillEnd,
    signed(event, { secret = webhookSecret, timestamp = now() } = {}) {
      const payload = JSON.stringify(event, null, 2)
      const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })
      return { payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } }
    },
    async close() {
      for (const release of [...hanging]) release()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}
