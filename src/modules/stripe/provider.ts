// The `stripe` provider. Subscriptions start `incomplete` with a Checkout session and become
// `trialing`/`active` when the webhook confirms; every other operation is a Stripe call whose
// answer is mirrored through the same mapping as webhooks. Every call carries an idempotency key
// derived from what it does, so a retry (ours, the SDK's, or the client's) never does it twice.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type Stripe from 'stripe'
import type { Config } from '../../config.ts'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { setStripeCustomerId, stripeCustomerOf } from '../accounts/stripe-customer.ts'
import type {
  BillingProvider,
  ChangeOutcome,
  ProviderState,
  ProviderSubscription,
} from '../billing/provider.ts'
import type { PlanRow } from '../plans/plans.ts'
import { storeStripeIds } from '../plans/stripe-ids.ts'
import { scheduledChangeLeadMs } from '../subscriptions/sync.ts'
import { callStripe, fromUnix, idOf, isStripeError } from './client.ts'
import type { CallMode, StripeGuard } from './guard.ts'
import { periodOf, stateFromStripe } from './mapping.ts'

export interface StripeProvider extends BillingProvider {
  readonly client: Stripe
  /** The breaker (shared by both modes), bulkhead and budget every call goes through. */
  readonly guard: StripeGuard
  /** The same provider for jobs (reconciliation, sweep, webhook retries): no bulkhead or budget, longer retries. */
  readonly background: StripeProvider
  retrieveSubscription(id: string): Promise<Stripe.Subscription>
  retrieveCheckoutSession(id: string): Promise<Stripe.Checkout.Session>
  /** The invoice, or null when Stripe no longer has it (a deleted draft). */
  retrieveInvoice(id: string): Promise<Stripe.Invoice | null>
  listSubscriptions(customerId: string): Promise<Stripe.Subscription[]>
  /** Ends a Stripe subscription now (after plangate ended its access); an already ended one is fine. */
  cancelNow(subscriptionId: string): Promise<void>
  /** Verifies a Stripe event's signature on the raw body and parses it; throws on a bad one. */
  verifyEvent(rawBody: Buffer | string, signature: string | undefined, now: Date): Stripe.Event
  stateOf(
    tx: Executor,
    subscription: Stripe.Subscription,
    before: ProviderSubscription,
  ): Promise<ProviderState>
  /**
   * Puts a change scheduled for period end on the Stripe subscription (the price, without
   * proration), shortly before the period ends, so Stripe's renewal invoices the new plan.
   */
  applyScheduledChange(tx: Executor, row: ProviderSubscription, to: PlanRow): Promise<void>
}

/** Stripe answered, but not as documented: logged by the error handler, a 503 for the client. */
function unexpectedAnswer(what: string): AppError {
  const error = new AppError(
    'provider_unavailable',
    'The payment provider gave an unexpected answer; please try again',
  )
  error.cause = new Error(`unexpected Stripe answer: ${what}`)
  return error
}

/**
 * The Stripe provider. Its methods make Stripe calls and short single statements on the executor
 * they are given (the customer and price ids they create); callers never hold a transaction open
 * around them: they record the intent, call, then apply the answer in a second transaction.
 */
export function createStripeProvider(
  clients: { interactive: Stripe; background: Stripe },
  deps: { config: Config; log: Logger },
  guard: StripeGuard,
  mode: CallMode = 'interactive',
  other?: StripeProvider,
): StripeProvider {
  const { config, log } = deps
  const client = mode === 'interactive' ? clients.interactive : clients.background
  const call = <T>(operation: string, run: () => Promise<T>) => callStripe(log, guard, mode, operation, run)
  const returnUrl = config.BILLING_RETURN_URL ?? config.APP_URL

  let backgroundProvider: StripeProvider | undefined

  async function subscriptionOf(row: ProviderSubscription): Promise<Stripe.Subscription> {
    if (!row.providerSubscriptionId) {
      throw new AppError('conflict', 'The subscription is waiting for its Checkout to complete')
    }
    const id = row.providerSubscriptionId
    return call('subscriptions.retrieve', () => client.subscriptions.retrieve(id))
  }

  async function ensureCustomer(tx: Executor, accountId: string, email: string | null): Promise<string> {
    const account = await stripeCustomerOf(tx, accountId)
    if (!account) throw notFound('Account')
    // An existing customer still gets the owner's email when one is known: it may have been made
    // without it (by the portal), and the id is stored as soon as Stripe made it.
    if (account.customer && !email) return account.customer
    // The parameters never vary for one key (Stripe refuses a key reused with others): name and
    // email are set by a separate update.
    const customerId =
      account.customer ??
      (
        await call('customers.create', () =>
          client.customers.create(
            { metadata: { plangate_account_id: accountId } },
            { idempotencyKey: `plangate:customer:${accountId}` },
          ),
        )
      ).id
    if (!account.customer) {
      // Stored at once (one statement, no transaction held): a later call reuses it.
      await setStripeCustomerId(tx, accountId, customerId)
    }
    const name = account.name
    const details = { name, ...(email && { email }) }
    const digest = createHash('sha256').update(JSON.stringify(details)).digest('hex')
    await call('customers.update', () =>
      client.customers.update(customerId, details, {
        idempotencyKey: `plangate:customer-details:${customerId}:${digest}`,
      }),
    )
    return customerId
  }

  async function priceOf(tx: Executor, plan: PlanRow): Promise<string> {
    if (plan.stripePriceId) return plan.stripePriceId
    const ids = await provider.syncPlan(tx, plan, null)
    // Stored unless the plan changed meanwhile (a newer price gets its own Price).
    await storeStripeIds(tx, plan, ids)
    if (!ids.stripePriceId) throw unexpectedAnswer(`plan ${plan.code} got no Stripe price`)
    return ids.stripePriceId
  }

  const provider: StripeProvider = {
    name: 'stripe',
    client,
    guard,
    get background(): StripeProvider {
      if (mode === 'background') return provider
      backgroundProvider ??= other ?? createStripeProvider(clients, deps, guard, 'background', provider)
      return backgroundProvider
    },

    assertAvailable() {
      guard.assertAvailable(mode)
    },

    initialState(_plan, _trialDays, now) {
      // Nothing is granted until the webhook confirms the payment (or the trial).
      return { status: 'incomplete', currentPeriodStart: now, currentPeriodEnd: now, trialEnd: null }
    },

    async start(tx, { row, plan, trialDays, ownerEmail }) {
      const customer = await ensureCustomer(tx, row.accountId, ownerEmail)
      const price = await priceOf(tx, plan)
      const metadata = { plangate_account_id: row.accountId, plan: plan.code }
      const session = await call('checkout.sessions.create', () =>
        client.checkout.sessions.create(
          {
            mode: 'subscription',
            customer,
            client_reference_id: row.accountId,
            line_items: [{ price, quantity: 1 }],
            success_url: `${returnUrl}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
            cancel_url: `${returnUrl}?checkout=canceled`,
            metadata,
            subscription_data: { metadata, ...(trialDays > 0 && { trial_period_days: trialDays }) },
          },
          // The same subscribe resumed (a retry after a timeout, or reconciliation after a crash)
          // replays the same session: the key is the recorded subscription's.
          { idempotencyKey: `plangate:checkout:${row.id}:${price}:${trialDays}` },
        ),
      )
      if (!session.url) throw unexpectedAnswer('a Checkout session without a URL')
      return {
        checkout: {
          sessionId: session.id,
          url: session.url,
          expiresAt: fromUnix(session.expires_at) ?? new Date(Date.now() + 86_400_000),
        },
      }
    },

    async abandon(_tx, row) {
      if (!row.checkoutSessionId) return
      const id = row.checkoutSessionId
      const session = await call('checkout.sessions.retrieve', () => client.checkout.sessions.retrieve(id))
      if (session.status === 'complete') {
        throw new AppError(
          'conflict',
          'The Checkout of this account has just been paid; its subscription starts shortly',
        )
      }
      if (session.status === 'open') {
        await call('checkout.sessions.expire', () =>
          client.checkout.sessions.expire(id, {}, { idempotencyKey: `plangate:expire:${id}` }),
        )
      }
    },

    async changePlan(tx, { row, from, to, when, now }): Promise<ChangeOutcome> {
      if (when === 'period_end') {
        if (row.interval !== to.interval) {
          // Stripe restarts the billing cycle (and invoices) at once when the interval changes.
          throw new AppError(
            'conflict',
            'With Stripe, a change of billing interval takes effect now; use when: "now"',
          )
        }
        if (row.currentPeriodEnd <= now) {
          // Stripe is renewing it and its webhook has not landed: the period here is stale.
          throw new AppError('conflict', 'The subscription is being renewed; try again in a minute')
        }
        await priceOf(tx, to)
        // Kept here until shortly before the period ends (see `applyScheduledChange`), so dropping
        // it or canceling meanwhile never has to undo anything at Stripe. Closer than that, it goes
        // to Stripe now: no sweep may run before the renewal.
        if (row.currentPeriodEnd.getTime() - now.getTime() <= scheduledChangeLeadMs) {
          await provider.applyScheduledChange(tx, { ...row, pendingPlanId: to.id, updatedAt: now }, to)
        }
        return { state: { pendingPlanId: to.id } }
      }
      const current = await subscriptionOf(row)
      const item = current.items.data[0]
      if (!item) throw unexpectedAnswer(`subscription ${current.id} has no item`)
      const price = await priceOf(tx, to)
      const upgrade = to.tier > from.tier || to.priceCents > from.priceCents
      const params: Stripe.SubscriptionUpdateParams = {
        items: [{ id: item.id, price }],
        // An upgrade is invoiced at once and applies only once paid; a downgrade is credited on the next invoice.
        proration_behavior: upgrade ? 'always_invoice' : 'create_prorations',
        ...(upgrade && { payment_behavior: 'pending_if_incomplete' as const }),
      }
      const updated = await call('subscriptions.update', () =>
        client.subscriptions.update(current.id, params, {
          // One attempt per request (the SDK's retries reuse it); a later request is a new attempt.
          idempotencyKey: `plangate:change:${row.id}:${to.id}:${now.getTime()}`,
        }),
      )
      return {
        state: await stateFromStripe(tx, updated, row),
        awaitingPayment: Boolean(updated.pending_update),
      }
    },

    async applyScheduledChange(tx, row, to) {
      const current = await subscriptionOf(row)
      const item = current.items.data[0]
      const price = await priceOf(tx, to)
      if (!item || idOf(item.price) === price) return
      // Only into the period plangate knows: after Stripe renewed (webhook pending) it would
      // change the period already paid for.
      if (periodOf(current)?.end.getTime() !== row.currentPeriodEnd.getTime()) return
      const updated = await call('subscriptions.update', () =>
        client.subscriptions.update(
          current.id,
          { items: [{ id: item.id, price }], proration_behavior: 'none' },
          // A new key each time it is scheduled again (an old answer must not be replayed).
          { idempotencyKey: `plangate:scheduled:${row.id}:${to.id}:${row.updatedAt.getTime()}` },
        ),
      )
      if (idOf(updated.items.data[0]?.price) !== price) {
        throw unexpectedAnswer(`the scheduled price was not taken for subscription ${row.id}`)
      }
    },

    async unscheduleChange(tx, row, current) {
      const subscription = await subscriptionOf(row)
      const item = subscription.items.data[0]
      // Back to the price this subscriber pays (an older price stays theirs), not the plan's newest.
      const price = row.providerPriceId ?? (await priceOf(tx, current))
      if (item && idOf(item.price) !== price) {
        const updated = await call('subscriptions.update', () =>
          client.subscriptions.update(
            subscription.id,
            { items: [{ id: item.id, price }], proration_behavior: 'none' },
            { idempotencyKey: `plangate:unschedule:${row.id}:${row.updatedAt.getTime()}` },
          ),
        )
        return { ...(await stateFromStripe(tx, updated, row)), planId: current.id, pendingPlanId: null }
      }
      return { pendingPlanId: null }
    },

    async cancel(tx, row, atPeriodEnd) {
      if (!row.providerSubscriptionId) return { status: 'expired', endedAt: row.createdAt }
      const id = row.providerSubscriptionId
      let restore: Stripe.SubscriptionUpdateParams = {}
      if (atPeriodEnd && row.pendingPlanId && row.providerPriceId) {
        // A change scheduled for period end put its price on the item already: put the paid one back.
        const item = (await subscriptionOf(row)).items.data[0]
        if (item && idOf(item.price) !== row.providerPriceId) {
          restore = { items: [{ id: item.id, price: row.providerPriceId }], proration_behavior: 'none' }
        }
      }
      const updated = atPeriodEnd
        ? await call('subscriptions.update', () =>
            client.subscriptions.update(
              id,
              { cancel_at_period_end: true, ...restore },
              { idempotencyKey: `plangate:cancel:${row.id}:${row.updatedAt.getTime()}` },
            ),
          )
        : await call('subscriptions.cancel', () =>
            client.subscriptions.cancel(id, {}, { idempotencyKey: `plangate:cancel-now:${row.id}` }),
          )
      return { ...(await stateFromStripe(tx, updated, row)), pendingPlanId: null }
    },

    async resume(tx, row) {
      const subscription = await subscriptionOf(row)
      const updated = await call('subscriptions.update', () =>
        client.subscriptions.update(
          subscription.id,
          {
            cancel_at_period_end: false,
            ...(subscription.cancel_at && !subscription.cancel_at_period_end && { cancel_at: '' as const }),
          },
          { idempotencyKey: `plangate:resume:${row.id}:${row.updatedAt.getTime()}` },
        ),
      )
      return stateFromStripe(tx, updated, row)
    },

    async currentState(tx, row) {
      return stateFromStripe(tx, await subscriptionOf(row), row)
    },

    async portalUrl(tx, accountId) {
      const customer = await ensureCustomer(tx, accountId, null)
      // No idempotency key: a portal session lives minutes, so a replayed one could be stale;
      // creating a second one is harmless.
      const session = await call('billingPortal.sessions.create', () =>
        client.billingPortal.sessions.create({ customer, return_url: returnUrl }),
      )
      return session.url
    },

    async syncPlan(_tx, plan, previous) {
      let productId = plan.stripeProductId
      const product = { name: plan.name, description: plan.description || undefined, active: plan.isActive }
      if (!productId) {
        const created = await call('products.create', () =>
          client.products.create(
            { ...product, metadata: { plan_code: plan.code } },
            { idempotencyKey: `plangate:product:${plan.id}` },
          ),
        )
        productId = created.id
      } else if (
        previous &&
        (previous.name !== plan.name ||
          previous.description !== plan.description ||
          previous.isActive !== plan.isActive)
      ) {
        const id = productId
        await call('products.update', () =>
          client.products.update(id, product, {
            idempotencyKey: `plangate:product:${plan.id}:${plan.updatedAt.getTime()}`,
          }),
        )
      }
      const priceChanged =
        !plan.stripePriceId ||
        (previous !== null &&
          (previous.priceCents !== plan.priceCents ||
            previous.currency !== plan.currency ||
            previous.interval !== plan.interval))
      if (!priceChanged) return { stripeProductId: productId }
      const product_ = productId
      const price = await call('prices.create', () =>
        client.prices.create(
          {
            product: product_,
            unit_amount: plan.priceCents,
            currency: plan.currency,
            recurring: { interval: plan.interval },
            metadata: { plan_code: plan.code },
          },
          {
            idempotencyKey: `plangate:price:${plan.id}:${plan.priceCents}:${plan.currency}:${plan.interval}:${plan.updatedAt.getTime()}`,
          },
        ),
      )
      // Existing subscribers keep the old price; it is only closed to new subscriptions.
      const old = plan.stripePriceId
      if (old && old !== price.id) {
        await call('prices.update', () =>
          client.prices.update(old, { active: false }, { idempotencyKey: `plangate:archive:${old}` }),
        )
      }
      return { stripeProductId: productId, stripePriceId: price.id }
    },

    retrieveSubscription: (id) => call('subscriptions.retrieve', () => client.subscriptions.retrieve(id)),
    retrieveInvoice: (id) =>
      call('invoices.retrieve', async () => {
        try {
          return await client.invoices.retrieve(id)
        } catch (error) {
          if (isStripeError(error) && error.code === 'resource_missing') return null
          throw error
        }
      }),
    retrieveCheckoutSession: (id) =>
      call('checkout.sessions.retrieve', () => client.checkout.sessions.retrieve(id)),

    async listSubscriptions(customerId) {
      const list = await call('subscriptions.list', () =>
        client.subscriptions.list({ customer: customerId, status: 'all', limit: 100 }),
      )
      return list.data
    },

    async cancelNow(subscriptionId) {
      try {
        await guard.run('subscriptions.cancel', mode, () =>
          client.subscriptions.cancel(
            subscriptionId,
            {},
            { idempotencyKey: `plangate:end:${subscriptionId}` },
          ),
        )
      } catch (error) {
        if (!isStripeError(error) || error.statusCode === undefined || error.statusCode >= 500) throw error
        // Done if it is already over or gone; any other refusal (rate limit, keys) is retried by the job.
        if (error.code === 'resource_missing') return
        const current = await guard.run('subscriptions.retrieve', mode, () =>
          client.subscriptions.retrieve(subscriptionId),
        )
        if (current.status !== 'canceled' && current.status !== 'incomplete_expired') throw error
      }
    },

    verifyEvent(rawBody, signature, now) {
      if (!signature || !config.STRIPE_WEBHOOK_SECRET) throw new Error('missing Stripe-Signature')
      const tolerance = config.STRIPE_WEBHOOK_TOLERANCE_SECONDS
      // The SDK refuses signatures older than the tolerance; one from the future is refused too.
      const signedAt = Number(/(?:^|,)\s*t=(\d{1,12})(?:,|$)/.exec(signature)?.[1])
      if (!Number.isFinite(signedAt) || signedAt - now.getTime() / 1000 > tolerance) {
        throw new Error('Stripe-Signature timestamp is missing or in the future')
      }
      return client.webhooks.constructEvent(
        rawBody,
        signature,
        config.STRIPE_WEBHOOK_SECRET,
        tolerance,
        undefined,
        now.getTime(),
      )
    },

    stateOf: stateFromStripe,
  }
  return provider
}
