// Delivers one event to one endpoint in three steps, none of which holds a database connection
// while waiting on the network: a short read of what to send (and the attempt counted, before the
// request goes out, so an attempt lost in flight still counts towards the retry limit), the POST
// itself through the endpoint's circuit breaker (deps.webhooks), then one statement recording the
// outcome. A failure throws so pg-boss retries with backoff; the last one leaves the delivery
// `failed`. While an endpoint's breaker is open, a run sends nothing, says so in the delivery log
// and is retried like a failure.
import { and, eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Clock } from '../../core/clock.ts'
import type { Db } from '../../core/db.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import type { WebhookSender } from './sender.ts'
import { signatureHeader } from './signature.ts'
import { events, webhookDeliveries, webhookEndpoints } from './tables.ts'

/**
 * How one delivery attempt ended: `delivered`; `failed`, to be retried; `gave_up`, the last
 * attempt failed (or the endpoint was deleted) and the delivery is left `failed`.
 */
export type DeliveryOutcome = 'delivered' | 'failed' | 'gave_up'

/** Where attempts are counted (the metrics); in-memory, no I/O. */
export interface DeliveryRecorder {
  /** `lagSeconds`, for a delivered one: from the event's creation to its successful delivery. */
  webhookDelivery(outcome: DeliveryOutcome, lagSeconds?: number): void
}

/** What a delivery runs with: the database, the clock, the sender (address rule + breakers), the metrics. */
export interface DeliveryContext {
  db: Db
  clock: Clock
  webhooks: WebhookSender
  metrics: DeliveryRecorder
}

const retryLimit = 8

export const deliverWebhook = defineJob({
  name: 'webhooks.deliver',
  payload: z.object({ delivery_id: z.uuid() }),
  retryLimit,
  retryDelaySeconds: 30,
  retryBackoff: true,
  // Above the longest WEBHOOK_TIMEOUT_MS (30 s): a delivery never expires while its POST may still answer.
  expireInSeconds: 60,
  // WEBHOOK_RETRY_DELAY_SECONDS=0 (tests) makes every retry due at once.
  retrySettings: (config) => ({
    retryDelaySeconds: config.WEBHOOK_RETRY_DELAY_SECONDS,
    retryBackoff: config.WEBHOOK_RETRY_DELAY_SECONDS > 0,
  }),
})

export const deliverWebhookHandler = handleJob(
  deliverWebhook,
  async (deps: DeliveryContext, { delivery_id }) => {
    const [delivery] = await deps.db
      .select({
        status: webhookDeliveries.status,
        endpointId: webhookDeliveries.endpointId,
        url: webhookEndpoints.url,
        secret: webhookEndpoints.secret,
        endpointActive: webhookEndpoints.isActive,
        eventId: events.id,
        type: events.type,
        accountId: events.accountId,
        data: events.data,
        createdAt: events.createdAt,
      })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
      .where(eq(webhookDeliveries.id, delivery_id))
    // Gone with its endpoint or event, or already settled: nothing to do (a re-run never re-sends).
    if (delivery?.status !== 'pending') return
    if (!delivery.endpointActive) {
      await settle(deps, delivery_id, { status: 'failed', lastError: 'The endpoint was deleted' })
      deps.metrics.webhookDelivery('gave_up')
      return
    }

    const [counted] = await deps.db
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, updatedAt: deps.clock.now() })
      .where(and(eq(webhookDeliveries.id, delivery_id), eq(webhookDeliveries.status, 'pending')))
      .returning({ attempts: webhookDeliveries.attempts })
    if (!counted) return

    const body = JSON.stringify({
      id: delivery.eventId,
      type: delivery.type,
      created_at: delivery.createdAt.toISOString(),
      account_id: delivery.accountId,
      data: delivery.data,
    })
    const attempt = await deps.webhooks.send({ id: delivery.endpointId, url: delivery.url }, body, {
      'content-type': 'application/json',
      'user-agent': 'plangate-webhooks',
      'plangate-event-id': delivery.eventId,
      'plangate-signature': signatureHeader(body, delivery.secret, deps.clock.now()),
    })
    if (attempt.ok) {
      const deliveredAt = deps.clock.now()
      await settle(deps, delivery_id, {
        status: 'delivered',
        lastStatusCode: attempt.status,
        lastError: null,
        lastDurationMs: attempt.durationMs,
        deliveredAt,
      })
      const lag = (deliveredAt.getTime() - delivery.createdAt.getTime()) / 1000
      deps.metrics.webhookDelivery('delivered', Math.max(0, lag))
      return
    }
    const exhausted = counted.attempts >= retryLimit + 1
    await settle(deps, delivery_id, {
      status: exhausted ? 'failed' : 'pending',
      lastStatusCode: attempt.status,
      lastError: attempt.error,
      lastDurationMs: attempt.skipped ? null : attempt.durationMs,
    })
    deps.metrics.webhookDelivery(exhausted ? 'gave_up' : 'failed')
    throw new Error(`webhook delivery ${delivery_id} failed: ${attempt.error}`)
  },
)

async function settle(
  deps: DeliveryContext,
  deliveryId: string,
  change: Partial<
    Pick<
      typeof webhookDeliveries.$inferInsert,
      'status' | 'lastStatusCode' | 'lastError' | 'lastDurationMs' | 'deliveredAt'
    >
  >,
): Promise<void> {
  await deps.db
    .update(webhookDeliveries)
    .set({ ...change, updatedAt: deps.clock.now() })
    .where(eq(webhookDeliveries.id, deliveryId))
}
