// Outgoing events: written in the same transaction as the change they describe, with one delivery
// (and one delivery job) per interested endpoint, so a rolled-back change announces nothing and a
// committed one is never lost.
import { eq } from 'drizzle-orm'
import type { Clock } from '../../core/clock.ts'
import type { Executor } from '../../core/db.ts'
import { newId } from '../../core/ids.ts'
import type { JobSender } from '../jobs/queue.ts'
import type { EventType } from './catalogue.ts'
import { deliverWebhook } from './jobs.ts'
import { events, webhookDeliveries, webhookEndpoints } from './tables.ts'

/** What emitting an event needs; the app's `Deps` satisfies it. */
export interface EventContext {
  jobs: JobSender
  clock: Clock
}

export interface OutgoingEvent {
  type: EventType
  accountId: string | null
  data: Record<string, unknown>
}

/** Whether an endpoint subscribed to `patterns` wants `type`: exact, `*`, or a prefix like `subscription.*`. */
export function matchesEventType(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (pattern) =>
      pattern === '*' ||
      pattern === type ||
      (pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1))),
  )
}

/** Records an event and queues its deliveries, in the caller's transaction. */
export async function emitEvent(tx: Executor, deps: EventContext, event: OutgoingEvent): Promise<string> {
  const now = deps.clock.now()
  const eventId = newId()
  await tx
    .insert(events)
    .values({ id: eventId, type: event.type, accountId: event.accountId, data: event.data, createdAt: now })
  const endpoints = await tx
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.isActive, true))
  const interested = endpoints.filter((endpoint) => matchesEventType(endpoint.events, event.type))
  if (interested.length === 0) return eventId
  const deliveries = interested.map((endpoint) => ({
    id: newId(),
    endpointId: endpoint.id,
    eventId,
    createdAt: now,
    updatedAt: now,
  }))
  await tx.insert(webhookDeliveries).values(deliveries)
  for (const delivery of deliveries) {
    await deps.jobs.enqueue(tx, deliverWebhook, { delivery_id: delivery.id }, { key: delivery.id })
  }
  return eventId
}
