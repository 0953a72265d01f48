// Delivers one event to one endpoint. The attempt is counted before the request goes out, so an
// attempt lost in flight (a crash, an expired job) still counts towards the retry limit; a failure
// throws so pg-boss retries with backoff, and the last failure leaves the delivery `failed`.
import { and, eq, sql } from 'drizzle-orm'
import { z } from 'zod'
import type { Deps } from '../../../deps.ts'
import { signatureHeader } from '../../webhooks/signature.ts'
import { events, webhookDeliveries, webhookEndpoints } from '../../webhooks/tables.ts'
import { defineJob } from '../define.ts'

/** How long one POST (headers and body) may take. */
export const deliveryTimeoutMs = 10_000
const retryLimit = 8
const excerptLength = 300

type Attempt = { ok: true; status: number } | { ok: false; status: number | null; error: string }

export const deliverWebhook = defineJob({
  name: 'webhooks.deliver',
  payload: z.object({ delivery_id: z.uuid() }),
  retryLimit,
  retryDelaySeconds: 30,
  retryBackoff: true,
  expireInSeconds: 60,
  // WEBHOOK_RETRY_DELAY_SECONDS=0 (tests) makes every retry due at once.
  retrySettings: (config) => ({
    retryDelaySeconds: config.WEBHOOK_RETRY_DELAY_SECONDS,
    retryBackoff: config.WEBHOOK_RETRY_DELAY_SECONDS > 0,
  }),
  async handler({ deps }, { delivery_id }) {
    const [delivery] = await deps.db
      .select({
        status: webhookDeliveries.status,
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
    const attempt = await post(delivery.url, body, {
      'content-type': 'application/json',
      'user-agent': 'plangate-webhooks',
      'plangate-event-id': delivery.eventId,
      'plangate-signature': signatureHeader(body, delivery.secret, deps.clock.now()),
    })
    if (attempt.ok) {
      await settle(deps, delivery_id, {
        status: 'delivered',
        lastStatusCode: attempt.status,
        lastError: null,
        deliveredAt: deps.clock.now(),
      })
      return
    }
    const exhausted = counted.attempts >= retryLimit + 1
    await settle(deps, delivery_id, {
      status: exhausted ? 'failed' : 'pending',
      lastStatusCode: attempt.status,
      lastError: attempt.error,
    })
    throw new Error(`webhook delivery ${delivery_id} failed: ${attempt.error}`)
  },
})

async function settle(
  deps: Deps,
  deliveryId: string,
  change: Partial<
    Pick<typeof webhookDeliveries.$inferInsert, 'status' | 'lastStatusCode' | 'lastError' | 'deliveredAt'>
  >,
): Promise<void> {
  await deps.db
    .update(webhookDeliveries)
    .set({ ...change, updatedAt: deps.clock.now() })
    .where(eq(webhookDeliveries.id, deliveryId))
}

/** One POST, redirects not followed (a 3xx is a failure: the endpoint must be configured at its final URL). */
async function post(url: string, body: string, headers: Record<string, string>): Promise<Attempt> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(deliveryTimeoutMs),
    })
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel()
      return { ok: true, status: response.status }
    }
    const location = response.headers.get('location')
    const redirect =
      response.status >= 300 && response.status < 400 && location
        ? ` (redirect to ${location} not followed)`
        : ''
    const excerpt = await bodyExcerpt(response)
    return {
      ok: false,
      status: response.status,
      error: `HTTP ${response.status}${redirect}${excerpt ? `: ${excerpt}` : ''}`,
    }
  } catch (error) {
    return { ok: false, status: null, error: describeFailure(error) }
  }
}

/** The start of a failed response's body, for the delivery log; the rest is never read. */
async function bodyExcerpt(response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  while (size < excerptLength) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    size += value.length
  }
  await reader.cancel().catch(() => undefined)
  return Buffer.concat(chunks).toString('utf8').slice(0, excerptLength).trim()
}

function describeFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `No response within ${deliveryTimeoutMs / 1000} s`
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
    return `${error.message}${cause}`
  }
  return String(error)
}
