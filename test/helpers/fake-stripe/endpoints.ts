// The API endpoints the fake serves: each decodes Stripe's parameters, refuses what Stripe refuses,
// and applies the change to the store (state.ts).
import {
  checkoutSessionShape,
  DAY,
  type FakeCustomer,
  type FakePrice,
  type FakeProduct,
  type FakeSubscription,
  type Interval,
  portalSessionShape,
  previousAttributes,
  priceShape,
  productShape,
  randomId,
  type StripeObject,
  snapshot,
} from './objects.ts'
import type { StripeState } from './state.ts'
import {
  bool,
  dict,
  first,
  int,
  invalid,
  mergeMetadata,
  missing,
  type Params,
  type Route,
  str,
} from './wire.ts'

/** The routes of the endpoints, over `state`. */
export function stripeRoutes(state: StripeState): Route[] {
  const { customers, products, prices, checkoutSessions, subscriptions, invoices, sessionPlans } = state
  const {
    now,
    baseUrl,
    find,
    emit,
    createCustomer,
    swapPrice,
    cancelNow,
    setCancelAtPeriodEnd,
    expireCheckout,
  } = state

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
      url: `${baseUrl()}/checkout/${id}`,
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
    return portalSessionShape(
      id,
      now(),
      customer,
      `${baseUrl()}/portal/${id}`,
      str(params, 'return_url') ?? null,
    )
  }

  const routes: Route[] = [
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

  return routes
}
