// Stripe webhooks in. An event is stored first under its unique id (ten copies at once store
// one), then processed: the subscription (and invoice) it names are re-read from Stripe with no
// transaction open, then one short transaction locks the stored event row (copies wait and find
// it processed) and the local subscription, and applies what was read only if that subscription
// is still the version seen before the re-read; if anything was applied to it meanwhile, it is
// read again. So a late or reordered event can only ever apply Stripe's newest state, and a slow
// Stripe never holds a connection. A failure rolls the whole change back, stays unprocessed and
// is retried (Stripe redelivers after our non-2xx, and a job picks up what is still unprocessed).
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm'
import type Stripe from 'stripe'
import type { Executor } from '../../core/db.ts'
import { AppError, retryAfter } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import type { Deps } from '../../deps.ts'
import { accounts } from '../accounts/tables.ts'
import { providerActor } from '../audit/audit.ts'
import { announceInvoice } from '../billing/invoices.ts'
import { type InvoiceStatus, invoices } from '../billing/tables.ts'
import { getPlanById } from '../plans/plans.ts'
import { markSynced } from '../subscriptions/lifecycle.ts'
import { remindTrialEnding } from '../subscriptions/reminders.ts'
import { type SubscriptionRow, subscriptions, trials } from '../subscriptions/tables.ts'
import { applyState, mailAccountOwners, type TransitionContext } from '../subscriptions/transitions.ts'
import { fromUnix, idOf } from './client.ts'
import type { StripeProvider } from './provider.ts'
import { stripeEvents } from './tables.ts'

type WebhookDeps = Pick<Deps, 'db' | 'config' | 'jobs' | 'clock' | 'log'> & { stripe: StripeProvider }

/** Stores a verified event (a duplicate id is a no-op) and processes it if it is not yet processed; `duplicate`: this call changed nothing. */
export async function receiveStripeEvent(
  deps: WebhookDeps,
  event: Stripe.Event,
): Promise<{ duplicate: boolean }> {
  await deps.db
    .insert(stripeEvents)
    .values({
      id: event.id,
      type: event.type,
      payload: event as unknown as Record<string, unknown>,
      eventCreatedAt: new Date(event.created * 1000),
      receivedAt: deps.clock.now(),
    })
    .onConflictDoNothing()
  // Whichever copy gets the lock first processes it (not necessarily the one that stored it); the
  // others wait for it, so none answers 200 for an event that then fails.
  return { duplicate: (await processStripeEvent(deps, event.id, { wait: true })) !== 'processed' }
}

/** Something was applied to a subscription while its Stripe state was being read: read again. */
class ChangedMeanwhile extends Error {}

/** Processes one stored event once; throws (and records the error) when it fails. */
export async function processStripeEvent(
  deps: WebhookDeps,
  eventId: string,
  options: { wait: boolean } = { wait: false },
): Promise<'processed' | 'already'> {
  try {
    for (let attempt = 0; ; attempt++) {
      const [stored] = await deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, eventId))
      if (!stored || stored.processedAt) return 'already'
      const event = stored.payload as unknown as Stripe.Event
      // Outside any transaction: what the event is about, as Stripe has it now.
      const reads = await readFromStripe(deps, event)
      try {
        return await deps.db.transaction(async (tx) => {
          // A request waits for a copy being processed; the retry job skips it.
          const query = tx.select().from(stripeEvents).where(eq(stripeEvents.id, eventId))
          const [row] = await (options.wait ? query.for('update') : query.for('update', { skipLocked: true }))
          if (!row || row.processedAt) return 'already'
          await handleEvent(tx, deps, event, reads)
          await tx
            .update(stripeEvents)
            .set({
              processedAt: deps.clock.now(),
              attempts: sql`${stripeEvents.attempts} + 1`,
              lastError: null,
            })
            .where(eq(stripeEvents.id, eventId))
          return 'processed'
        })
      } catch (error) {
        if (!(error instanceof ChangedMeanwhile)) throw error
        if (attempt >= 4) {
          // Stripe redelivers after the non-2xx, and the retry job tries again.
          throw retryAfter(
            new AppError('conflict', 'The subscription kept changing while this event was processed'),
            5,
          )
        }
      }
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    await deps.db
      .update(stripeEvents)
      .set({ attempts: sql`${stripeEvents.attempts} + 1`, lastError: message.slice(0, 500) })
      .where(eq(stripeEvents.id, eventId))
    throw error
  }
}

/**
 * Stripe's current objects for one event, read before the transaction, with the local rows they
 * were read against: a row is applied to only if it is still the version in `seen`.
 */
interface StripeReads {
  subscriptions: Map<string, Stripe.Subscription>
  invoices: Map<string, Stripe.Invoice | null>
  seen: Map<string, SubscriptionRow>
}

/** The Stripe reads an event needs, made with no transaction open (see StripeReads). */
async function readFromStripe(deps: WebhookDeps, event: Stripe.Event): Promise<StripeReads> {
  const reads: StripeReads = { subscriptions: new Map(), invoices: new Map(), seen: new Map() }
  const see = (row: SubscriptionRow | null | undefined) => {
    if (row) reads.seen.set(row.id, row)
  }
  const readSubscription = async (id: string) => {
    const fresh = await deps.stripe.retrieveSubscription(id)
    reads.subscriptions.set(id, fresh)
    return fresh
  }
  const db = deps.db
  if (event.type === 'checkout.session.completed') {
    const session = event.data.object as Stripe.Checkout.Session
    const subscriptionId = idOf(session.subscription)
    if (session.mode !== 'subscription' || !subscriptionId) return reads
    const row = await rowOfSession(db, session.id, false)
    // Not ours: nothing to ask Stripe (should it become ours meanwhile, the transaction reads again).
    if (!row) return reads
    see(row)
    await readSubscription(subscriptionId)
  } else if (subscriptionEvents.has(event.type) || event.type === 'customer.subscription.trial_will_end') {
    const object = event.data.object as Stripe.Subscription
    const row = await linkedSubscription(db, object, false)
    if (!row) return reads
    see(row)
    await readSubscription(object.id)
  } else if (invoiceEvents.has(event.type)) {
    const sent = event.data.object as Stripe.Invoice
    if (!sent.id || !(await accountOfCustomer(db, idOf(sent.customer)))) return reads
    const invoice = await deps.stripe.retrieveInvoice(sent.id)
    reads.invoices.set(sent.id, invoice)
    const subscriptionId = invoice ? subscriptionOfInvoice(invoice) : null
    if (subscriptionId) {
      see(await rowOfStripeSubscription(db, subscriptionId, false))
      see(await linkedSubscription(db, await readSubscription(subscriptionId), false))
    }
  }
  return reads
}

/** The row as read before Stripe was asked, or ChangedMeanwhile (the read may be older than what was applied). */
function unchanged(reads: StripeReads, row: SubscriptionRow): SubscriptionRow {
  const seen = reads.seen.get(row.id)
  if (!seen || JSON.stringify(seen) !== JSON.stringify(row)) throw new ChangedMeanwhile()
  return row
}

function readOf<T>(map: Map<string, T>, id: string): T {
  if (!map.has(id)) throw new Error(`Stripe object ${id} was not read before processing`)
  return map.get(id) as T
}

/** After this many failed attempts an event is left for an operator (`GET /v1/admin/webhook-events?processed=false`). */
export const maxAttempts = 25

/** Retries stored events still unprocessed after `olderThanMs`; returns how many succeeded. */
export async function retryUnprocessed(deps: WebhookDeps, olderThanMs: number, limit = 100): Promise<number> {
  const cutoff = new Date(deps.clock.now().getTime() - olderThanMs)
  const pending = await deps.db
    .select({ id: stripeEvents.id })
    .from(stripeEvents)
    .where(
      and(
        isNull(stripeEvents.processedAt),
        lt(stripeEvents.receivedAt, cutoff),
        lt(stripeEvents.attempts, maxAttempts),
      ),
    )
    // Those tried least first, so a few that keep failing never starve the rest.
    .orderBy(asc(stripeEvents.attempts), asc(stripeEvents.eventCreatedAt))
    .limit(limit)
  let processed = 0
  for (const { id } of pending) {
    try {
      if ((await processStripeEvent(deps, id)) === 'processed') processed++
    } catch (error) {
      deps.log.warn({ err: error, stripeEvent: id }, 'stripe event still failing')
    }
  }
  return processed
}

const subscriptionEvents = new Set([
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
])

const invoiceEvents = new Set([
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_succeeded',
  'invoice.payment_failed',
  'invoice.payment_action_required',
  'invoice.voided',
  'invoice.marked_uncollectible',
])

async function handleEvent(
  tx: Executor,
  deps: WebhookDeps,
  event: Stripe.Event,
  reads: StripeReads,
): Promise<void> {
  const ctx: TransitionContext = { deps, actor: providerActor, now: deps.clock.now() }
  const object = event.data.object as unknown as Record<string, unknown> & { id: string }
  if (event.type === 'checkout.session.completed' || event.type === 'checkout.session.expired') {
    const session = event.data.object as Stripe.Checkout.Session
    if (session.mode !== 'subscription') return
    const row = await rowOfSession(tx, session.id, true)
    if (!row) return ignore(deps, event, 'no subscription of ours has this Checkout session')
    if (event.type === 'checkout.session.expired') {
      if (row.status !== 'incomplete') return
      await applyState(tx, ctx, row, { status: 'expired', endedAt: ctx.now })
      await tx.delete(trials).where(eq(trials.subscriptionId, row.id))
      return
    }
    const subscriptionId = idOf(session.subscription)
    if (!subscriptionId) return ignore(deps, event, 'the session has no subscription')
    if (row.providerSubscriptionId && row.providerSubscriptionId !== subscriptionId) {
      return ignore(deps, event, 'the subscription is linked to another Stripe subscription')
    }
    await syncSubscription(tx, deps, ctx, unchanged(reads, row), readOf(reads.subscriptions, subscriptionId))
    return
  }
  if (subscriptionEvents.has(event.type) || event.type === 'customer.subscription.trial_will_end') {
    const row = await linkedSubscription(tx, object as unknown as Stripe.Subscription, true)
    if (!row) {
      if (reads.seen.size > 0) throw new ChangedMeanwhile()
      return ignore(deps, event, 'not a subscription plangate created')
    }
    const after = await syncSubscription(
      tx,
      deps,
      ctx,
      unchanged(reads, row),
      readOf(reads.subscriptions, object.id),
    )
    if (event.type === 'customer.subscription.trial_will_end' && after.status === 'trialing') {
      await remindTrialEnding(tx, deps, after, ctx.now)
    }
    return
  }
  if (invoiceEvents.has(event.type)) {
    await handleInvoice(tx, deps, ctx, event, reads)
    return
  }
  // Anything else is acknowledged and ignored.
}

function ignore(deps: WebhookDeps, event: Stripe.Event, reason: string): void {
  deps.log.info({ stripeEvent: event.id, type: event.type, reason }, 'stripe event ignored')
}

/**
 * The local subscription a Stripe subscription belongs to, locked: by its id, or (before the
 * Checkout completion is processed) the account's unpaid Checkout named in its metadata, if the
 * customer is that account's.
 */
async function linkedSubscription(
  tx: Executor,
  subscription: Stripe.Subscription,
  lock: boolean,
): Promise<SubscriptionRow | null> {
  const linked = await rowOfStripeSubscription(tx, subscription.id, lock)
  if (linked) return linked
  const accountId = subscription.metadata?.plangate_account_id
  const customer = idOf(subscription.customer)
  if (!accountId || !customer || !/^[0-9a-f-]{36}$/i.test(accountId)) return null
  const query = tx
    .select({ row: subscriptions })
    .from(subscriptions)
    .innerJoin(accounts, eq(accounts.id, subscriptions.accountId))
    .where(
      and(
        eq(subscriptions.accountId, accountId),
        eq(accounts.stripeCustomerId, customer),
        eq(subscriptions.provider, 'stripe'),
        eq(subscriptions.status, 'incomplete'),
        isNull(subscriptions.providerSubscriptionId),
      ),
    )
  const [pending] = await (lock ? query.for('update', { of: subscriptions }) : query)
  return pending?.row ?? null
}

async function rowOfStripeSubscription(
  tx: Executor,
  stripeSubscriptionId: string,
  lock: boolean,
): Promise<SubscriptionRow | null> {
  const query = tx
    .select()
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.provider, 'stripe'),
        eq(subscriptions.providerSubscriptionId, stripeSubscriptionId),
      ),
    )
  const [row] = await (lock ? query.for('update') : query)
  return row ?? null
}

async function rowOfSession(tx: Executor, sessionId: string, lock: boolean): Promise<SubscriptionRow | null> {
  const query = tx
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.provider, 'stripe'), eq(subscriptions.checkoutSessionId, sessionId)))
  const [row] = await (lock ? query.for('update') : query)
  return row ?? null
}

async function accountOfCustomer(tx: Executor, customer: string | null): Promise<{ id: string } | null> {
  if (!customer) return null
  const [account] = await tx
    .select({ id: accounts.id })
    .from(accounts)
    .where(eq(accounts.stripeCustomerId, customer))
  return account ?? null
}

function subscriptionOfInvoice(invoice: Stripe.Invoice): string | null {
  const legacy = invoice as unknown as { subscription?: string | { id: string } | null }
  return idOf(invoice.parent?.subscription_details?.subscription ?? legacy.subscription)
}

/** Applies the re-read Stripe subscription to the (locked, unchanged since the read) row. */
async function syncSubscription(
  tx: Executor,
  deps: WebhookDeps,
  ctx: TransitionContext,
  row: SubscriptionRow,
  fresh: Stripe.Subscription,
): Promise<SubscriptionRow> {
  const state = await deps.stripe.stateOf(tx, fresh, row)
  const after = await applyState(tx, ctx, row, state)
  await markSynced(tx, row.id)
  return after
}

function invoiceStatusOf(invoice: Stripe.Invoice, eventType: string): InvoiceStatus | null {
  switch (invoice.status) {
    case 'paid':
      return 'paid'
    case 'void':
      return 'void'
    case 'uncollectible':
      return 'failed'
    case 'open':
      return eventType === 'invoice.payment_failed' || (invoice.attempt_count ?? 0) > 0 ? 'failed' : 'open'
    default:
      return null
  }
}

/** A later status may replace an earlier one, never the other way (a late `payment_failed` never un-pays). */
const finalStatuses: InvoiceStatus[] = ['paid', 'void', 'refunded']

async function handleInvoice(
  tx: Executor,
  deps: WebhookDeps,
  ctx: TransitionContext,
  event: Stripe.Event,
  reads: StripeReads,
) {
  const sent = event.data.object as Stripe.Invoice
  const account = await accountOfCustomer(tx, idOf(sent.customer))
  if (!account || !sent.id) return ignore(deps, event, 'the customer is not an account of ours')
  const invoice = readOf(reads.invoices, sent.id)
  // Deleted since (a draft): nothing to record.
  if (!invoice) return ignore(deps, event, 'the invoice no longer exists')
  const stripeSubscriptionId = subscriptionOfInvoice(invoice)
  const linked = stripeSubscriptionId ? await rowOfStripeSubscription(tx, stripeSubscriptionId, true) : null
  if (linked) unchanged(reads, linked)

  const status = invoiceStatusOf(invoice, event.type)
  let change: 'created' | 'paid' | 'failed' | null = null
  if (status && invoice.id) {
    const line = invoice.lines?.data?.[0]
    const values = {
      amountCents: status === 'paid' ? invoice.amount_paid : invoice.amount_due,
      currency: invoice.currency,
      status,
      description: invoice.description ?? line?.description ?? '',
      periodStart: fromUnix(line?.period?.start ?? invoice.period_start),
      periodEnd: fromUnix(line?.period?.end ?? invoice.period_end),
      hostedUrl: invoice.hosted_invoice_url ?? null,
      paidAt: status === 'paid' ? (fromUnix(invoice.status_transitions?.paid_at) ?? ctx.now) : null,
    }
    const [created] = await tx
      .insert(invoices)
      .values({
        id: newId(),
        accountId: account.id,
        subscriptionId: linked?.id ?? null,
        provider: 'stripe',
        providerInvoiceId: invoice.id,
        createdAt: ctx.now,
        ...values,
      })
      .onConflictDoNothing({ target: [invoices.provider, invoices.providerInvoiceId] })
      .returning()
    if (created) {
      change = status === 'paid' ? 'paid' : status === 'failed' ? 'failed' : 'created'
      if (change !== 'created') await announceInvoice(tx, deps, ctx, created, 'created')
      await announceInvoice(tx, deps, ctx, created, change)
    } else {
      const [existing] = await tx
        .select()
        .from(invoices)
        .where(and(eq(invoices.provider, 'stripe'), eq(invoices.providerInvoiceId, invoice.id)))
        .for('update')
      if (existing && existing.status !== status && !finalStatuses.includes(existing.status)) {
        const [updated] = await tx
          .update(invoices)
          .set(values)
          .where(eq(invoices.id, existing.id))
          .returning()
        if (updated && (status === 'paid' || status === 'failed')) {
          change = status
          await announceInvoice(tx, deps, ctx, updated, status)
        }
      }
    }
  }

  // The subscription it bills, as Stripe has it now (past_due after a failure, active after a
  // payment). Before the Checkout completion is processed it is found as the account's Checkout
  // named in the subscription's metadata, and the invoice is attached to it.
  const fresh = stripeSubscriptionId ? readOf(reads.subscriptions, stripeSubscriptionId) : null
  const pending = !linked && fresh ? await linkedSubscription(tx, fresh, true) : null
  if (pending) unchanged(reads, pending)
  const local = linked ?? pending
  const after = local && fresh ? await syncSubscription(tx, deps, ctx, local, fresh) : null
  if (local && !linked && invoice.id) {
    await tx
      .update(invoices)
      .set({ subscriptionId: local.id })
      .where(
        and(
          eq(invoices.provider, 'stripe'),
          eq(invoices.providerInvoiceId, invoice.id),
          isNull(invoices.subscriptionId),
        ),
      )
  }
  if (change === 'failed' || event.type === 'invoice.payment_action_required') {
    const plan = after ? await getPlanById(tx, after.planId) : null
    await mailAccountOwners(
      tx,
      deps,
      account.id,
      {
        template: 'payment_failed',
        plan_name: plan?.name ?? 'your plan',
        amount_cents: invoice.amount_due,
        currency: invoice.currency,
        grace_until: (after?.graceUntil ?? after?.currentPeriodEnd ?? ctx.now).toISOString(),
        billing_url: invoice.hosted_invoice_url ?? null,
      },
      `payment-failed:${invoice.id}:${invoice.attempt_count ?? 0}`,
    )
  }
}
