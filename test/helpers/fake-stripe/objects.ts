// Stripe objects as the API returns them (shaped like the shared fixtures): the fake's types, its
// ids and period arithmetic, and one builder per object. Fields the fake gives no behaviour keep
// their usual defaults; `satisfies` checks every field name and type against the SDK's definitions.
import { randomBytes } from 'node:crypto'
import type Stripe from 'stripe'

export type Metadata = Record<string, string>
export type Interval = 'day' | 'week' | 'month' | 'year'

/** Every field a fake object holds; the interfaces below name the ones the fake itself reads. */
export interface StripeObject {
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

// Ids and time

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
export const randomId = (prefix: string, length = 24) =>
  `${prefix}_${Array.from(randomBytes(length), (byte) => ALPHABET[byte % ALPHABET.length]).join('')}`

export const DAY = 86_400

/** `anchor` moved by `count` intervals; months are calendar months in UTC, clamped to short months. */
export function addIntervals(anchor: number, interval: Interval, count: number): number {
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
export function periodEnd(anchor: number, start: number, price: FakePrice): number {
  const { interval, interval_count } = price.recurring ?? { interval: 'month', interval_count: 1 }
  for (let n = 1; ; n++) {
    const end = addIntervals(anchor, interval, n * interval_count)
    if (end > start) return end
  }
}

/** The top-level fields of `after` that differ from `before`, with their old values. */
export function previousAttributes(before: StripeObject, after: StripeObject): Record<string, unknown> {
  const changed: Record<string, unknown> = {}
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed[key] = before[key] ?? null
  }
  return changed
}

export const snapshot = <T>(object: T): T => structuredClone(object)

/** Checks a fake object against the SDK's type field by field, without requiring every field. */
export type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T

export type CustomerInput = {
  email: string | null
  name: string | null
  description: string | null
  metadata: Metadata
}

// biome-ignore format: many plain fields, grouped by line
export function customerShape(id: string, created: number, input: CustomerInput): FakeCustomer {
  return {
    id, object: 'customer', created, livemode: false, ...input,
    address: null, balance: 0, currency: null, customer_account: null, default_source: null,
    delinquent: false, discount: null, invoice_prefix: id.slice(4, 12).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    next_invoice_sequence: 1, phone: null, preferred_locales: [], shipping: null, tax_exempt: 'none', test_clock: null,
  } satisfies DeepPartial<Stripe.Customer>
}

// biome-ignore format: many plain fields, grouped by line
export function productShape(id: string, created: number, name: string): FakeProduct {
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
export function priceShape(id: string, created: number, { interval, interval_count, ...input }: PriceInput): FakePrice {
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
export function planShape(price: FakePrice) {
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
export function itemShape(id: string, created: number, { subscription, price, quantity, start, end }: ItemInput): FakeSubscriptionItem {
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
export function subscriptionShape(id: string, created: number, { customer, currency, metadata, anchor, trial, item }: SubscriptionInput): FakeSubscription {
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
export function lineShape({ subscription, item, amount, description, period, proration }: LineInput): FakeInvoiceLineInput {
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
export function invoiceShape(id: string, created: number, { subscription, customer, reason, lines }: InvoiceInput): FakeInvoice {
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
export function checkoutSessionShape(id: string, created: number, { amount, ...input }: SessionInput): FakeCheckoutSession {
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
export function portalSessionShape(id: string, created: number, customer: string, url: string, returnUrl: string | null) {
  return {
    id, object: 'billing_portal.session', created, livemode: false, customer, url, return_url: returnUrl,
    configuration: 'bpc_fake_default', customer_account: null, flow: null, locale: null, on_behalf_of: null,
  } satisfies DeepPartial<Stripe.BillingPortal.Session>
}
