// Stripe events in. An event is stored first under its unique id (ten copies at once store
// one), then processed: the subscription (and invoice) it names are re-read from Stripe with no
// transaction open, then one short transaction locks the stored event row (copies wait and find
// it processed) and the local subscription, and applies what was read only if that subscription
// is still the version seen before the re-read; if anything was applied to it meanwhile, it is
// read again. So a late or reordered event can only ever apply Stripe's newest state, and a slow
// Stripe never holds a connection. A failure rolls the whole change back, stays unprocessed and
// is retried (Stripe redelivers after our non-2xx, and a job picks up what is still unprocessed).
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm'
import type Stripe from 'stripe'
import { AppError, retryAfter } from '../../core/errors.ts'
import { providerActor } from '../audit/audit.ts'
import type { TransitionContext } from '../subscriptions/sync.ts'
import { handlerOf } from './events/dispatch.ts'
import { ChangedMeanwhile, noReads, type StripeEventDeps } from './events/reads.ts'
import { stripeEvents } from './tables.ts'

/** Stores a verified event (a duplicate id is a no-op) and processes it if it is not yet processed; `duplicate`: this call changed nothing. */
export async function receiveStripeEvent(
  deps: StripeEventDeps,
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

/** Processes one stored event once; throws (and records the error) when it fails. */
export async function processStripeEvent(
  deps: StripeEventDeps,
  eventId: string,
  options: { wait: boolean } = { wait: false },
): Promise<'processed' | 'already'> {
  try {
    for (let attempt = 0; ; attempt++) {
      const [stored] = await deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, eventId))
      if (!stored || stored.processedAt) return 'already'
      // Stored as Stripe sent it, after its signature was checked.
      const event = stored.payload as unknown as Stripe.Event
      const handler = handlerOf(event)
      // Outside any transaction: what the event is about, as Stripe has it now.
      const reads = noReads()
      await handler?.read(deps, reads)
      try {
        return await deps.db.transaction(async (tx) => {
          // A request waits for a copy being processed; the retry job skips it.
          const query = tx.select().from(stripeEvents).where(eq(stripeEvents.id, eventId))
          const [row] = await (options.wait ? query.for('update') : query.for('update', { skipLocked: true }))
          if (!row || row.processedAt) return 'already'
          const ctx: TransitionContext = { deps, actor: providerActor, now: deps.clock.now() }
          await handler?.apply(tx, deps, ctx, reads)
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

/** After this many failed attempts an event is left for an operator (`GET /v1/admin/webhook-events?processed=false`). */
export const maxAttempts = 25

/** Retries stored events still unprocessed after `olderThanMs`; returns how many succeeded. */
export async function retryUnprocessed(
  deps: StripeEventDeps,
  olderThanMs: number,
  limit = 100,
): Promise<number> {
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
