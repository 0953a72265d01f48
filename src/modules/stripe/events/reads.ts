// What an event handler reads from Stripe before its transaction, and the rule that makes a late
// read harmless: a local row is applied to only if it is still the version seen before the read.
import type { Logger } from 'pino'
import type Stripe from 'stripe'
import type { Db, Executor } from '../../../core/db.ts'
import type { SubscriptionRow, TransitionContext, TransitionDeps } from '../../subscriptions/sync.ts'
import type { StripeProvider } from '../provider.ts'

/** What processing a Stripe event needs. */
export interface StripeEventDeps extends TransitionDeps {
  db: Db
  log: Logger
  stripe: StripeProvider
}

/**
 * Stripe's current objects for one event, read before the transaction, with the local rows they
 * were read against: a row is applied to only if it is still the version in `seen`.
 */
export interface StripeReads {
  subscriptions: Map<string, Stripe.Subscription>
  invoices: Map<string, Stripe.Invoice | null>
  seen: Map<string, SubscriptionRow>
}

export const noReads = (): StripeReads => ({ subscriptions: new Map(), invoices: new Map(), seen: new Map() })

/** One event type's work: the Stripe reads with no transaction open, then the change in one transaction. */
export interface StripeEventHandler {
  read(deps: StripeEventDeps, reads: StripeReads): Promise<void>
  apply(tx: Executor, deps: StripeEventDeps, ctx: TransitionContext, reads: StripeReads): Promise<void>
}

/** Something was applied to a subscription while its Stripe state was being read: read again. */
export class ChangedMeanwhile extends Error {}

/** Notes the local row as it was before Stripe was asked. */
export function see(reads: StripeReads, row: SubscriptionRow | null | undefined): void {
  if (row) reads.seen.set(row.id, row)
}

/** Reads the Stripe subscription now and keeps it for the transaction. */
export async function readSubscription(
  deps: StripeEventDeps,
  reads: StripeReads,
  id: string,
): Promise<Stripe.Subscription> {
  const fresh = await deps.stripe.retrieveSubscription(id)
  reads.subscriptions.set(id, fresh)
  return fresh
}

/** The row as read before Stripe was asked, or ChangedMeanwhile (the read may be older than what was applied). */
export function unchanged(reads: StripeReads, row: SubscriptionRow): SubscriptionRow {
  const seen = reads.seen.get(row.id)
  if (!seen || JSON.stringify(seen) !== JSON.stringify(row)) throw new ChangedMeanwhile()
  return row
}

export function readOf<T>(map: Map<string, T>, id: string): T {
  if (!map.has(id)) throw new Error(`Stripe object ${id} was not read before processing`)
  return map.get(id) as T
}

/** Logs why an event of a known type changes nothing here. */
export function ignore(deps: StripeEventDeps, event: Stripe.Event, reason: string): void {
  deps.log.info({ stripeEvent: event.id, type: event.type, reason }, 'stripe event ignored')
}
