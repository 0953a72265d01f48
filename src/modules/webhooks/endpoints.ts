// Webhook endpoints and their delivery logs. A deleted endpoint is kept inactive (a soft delete),
// so its delivery log stays readable; nothing more is delivered to it.
import { and, desc, eq, lt } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import type { JobSender } from '../jobs/queue.ts'
import { type UrlPolicy, urlPolicyProblem } from './address-policy.ts'
import { deliverWebhook } from './jobs.ts'
import type {
  CreateEndpointBody,
  ListDeliveriesQuery,
  ListEndpointsQuery,
  WebhookDelivery,
  WebhookEndpoint,
} from './schemas.ts'
import { newWebhookSecret } from './signature.ts'
import { events, webhookDeliveries, webhookEndpoints } from './tables.ts'

type EndpointRow = typeof webhookEndpoints.$inferSelect

export const toEndpoint = (row: EndpointRow): WebhookEndpoint => ({
  id: row.id,
  url: row.url,
  events: row.events,
  description: row.description,
  is_active: row.isActive,
  created_at: row.createdAt.toISOString(),
})

/**
 * Registers an endpoint with a fresh secret; the caller shows the secret once. A URL that is an
 * internal address or `localhost` on its face is refused here (400 `url_not_allowed`); a name is
 * resolved and checked at every delivery, since what it resolves to can change.
 */
export async function createEndpoint(
  tx: Executor,
  input: CreateEndpointBody,
  createdBy: string,
  now: Date,
  policy: UrlPolicy,
): Promise<EndpointRow> {
  const problem = urlPolicyProblem(new URL(input.url), policy)
  if (problem) {
    throw new AppError('url_not_allowed', problem, { errors: [{ location: 'body.url', message: problem }] })
  }
  const [row] = await tx
    .insert(webhookEndpoints)
    .values({
      id: newId(),
      url: input.url,
      secret: newWebhookSecret(),
      events: input.events,
      description: input.description,
      createdBy,
      createdAt: now,
    })
    .returning()
  if (!row) throw new Error('insert returned no row')
  return row
}

/** Endpoints, newest first. */
export async function listEndpoints(tx: Executor, query: ListEndpointsQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        query.include_inactive ? undefined : eq(webhookEndpoints.isActive, true),
        cursor ? lt(webhookEndpoints.id, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(desc(webhookEndpoints.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.id], toEndpoint)
}

/** Stops deliveries to an endpoint (pending ones end `failed`); deleting it again changes nothing. */
export async function deleteEndpoint(tx: Executor, id: string): Promise<void> {
  const [row] = await tx
    .update(webhookEndpoints)
    .set({ isActive: false })
    .where(eq(webhookEndpoints.id, id))
    .returning({ id: webhookEndpoints.id })
  if (!row) throw notFound('Webhook endpoint')
}

/** An endpoint's deliveries, newest first; 404 for an unknown endpoint. */
export async function listDeliveries(tx: Executor, endpointId: string, query: ListDeliveriesQuery) {
  const [endpoint] = await tx
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.id, endpointId))
  if (!endpoint) throw notFound('Webhook endpoint')
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select({ delivery: webhookDeliveries, eventType: events.type })
    .from(webhookDeliveries)
    .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        query.status ? eq(webhookDeliveries.status, query.status) : undefined,
        cursor ? lt(webhookDeliveries.id, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.delivery.id], toDelivery)
}

/**
 * Gives a `failed` delivery one more attempt: it turns `pending` and a new delivery job is queued
 * in `tx`, which sends it like any other (the address rule, the endpoint's circuit breaker, the
 * signature made at sending time). Its attempts keep counting, so the retry limit is already
 * reached: one failure leaves it `failed` again. 404 for a delivery not of this endpoint; 409 for
 * one that is not `failed` or whose endpoint was deleted.
 */
export async function retryDelivery(
  tx: Executor,
  deps: { jobs: JobSender; clock: Clock },
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDelivery> {
  const [found] = await tx
    .select({ delivery: webhookDeliveries, endpointActive: webhookEndpoints.isActive })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
    .for('update', { of: webhookDeliveries })
  if (!found) throw notFound('Webhook delivery')
  if (!found.endpointActive) throw new AppError('conflict', 'The endpoint was deleted; nothing is sent to it')
  if (found.delivery.status !== 'failed') {
    throw new AppError(
      'conflict',
      `Only a failed delivery can be retried; this one is ${found.delivery.status}`,
    )
  }
  const [row] = await tx
    .update(webhookDeliveries)
    .set({ status: 'pending', updatedAt: deps.clock.now() })
    .where(eq(webhookDeliveries.id, deliveryId))
    .returning()
  const [event] = await tx
    .select({ type: events.type })
    .from(events)
    .where(eq(events.id, found.delivery.eventId))
  if (!row || !event) throw new Error('the retried delivery is gone')
  // The first run's job keeps the delivery's own key while pg-boss keeps it; each retry has its own.
  await deps.jobs.enqueue(
    tx,
    deliverWebhook,
    { delivery_id: deliveryId },
    { key: `${deliveryId}:retry:${row.attempts}` },
  )
  return toDelivery({ delivery: row, eventType: event.type })
}

function toDelivery({
  delivery,
  eventType,
}: {
  delivery: typeof webhookDeliveries.$inferSelect
  eventType: string
}): WebhookDelivery {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    event_type: eventType,
    status: delivery.status as WebhookDelivery['status'],
    attempts: delivery.attempts,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    last_duration_ms: delivery.lastDurationMs,
    delivered_at: delivery.deliveredAt?.toISOString() ?? null,
    created_at: delivery.createdAt.toISOString(),
    updated_at: delivery.updatedAt.toISOString(),
  }
}
