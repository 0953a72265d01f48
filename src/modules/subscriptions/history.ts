// The account's subscription history, as `recordTransition` writes it: every change of every
// subscription the account had, newest first, with the plans by code and the data readable.
import { and, desc, eq, inArray, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import type { Executor } from '../../core/db.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { plans } from '../plans/tables.ts'
import type { SubscriptionEvent } from './schemas.ts'
import { subscriptionEvents, subscriptions } from './tables.ts'

const fromPlan = alias(plans, 'from_plan')
const toPlan = alias(plans, 'to_plan')

/** The row names `applyState` lists in `data.changed`, as the API names them. */
const wireNames: Record<string, string> = {
  planId: 'plan',
  pendingPlanId: 'pending_plan',
  priceCents: 'price',
  currency: 'price',
  interval: 'price',
}
const snakeCase = (name: string) => wireNames[name] ?? name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** The transition's data as the API shows it: `changed` lists wire names (`plan`, `current_period_end`). */
function readableData(data: Record<string, unknown>): Record<string, unknown> {
  const { changed, ...rest } = data
  if (!Array.isArray(changed)) return data
  const names = changed.map((name) => (typeof name === 'string' ? snakeCase(name) : name))
  return { changed: [...new Set(names)], ...rest }
}

/**
 * An account's subscription history, newest first, paginated by (created_at, id). The account's
 * subscriptions are found first so the events are read through their subscription index.
 */
export async function listSubscriptionHistory(executor: Executor, accountId: string, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 2)
  const e = subscriptionEvents
  const rows = await executor
    .select({
      id: e.id,
      subscriptionId: e.subscriptionId,
      type: e.type,
      fromStatus: e.fromStatus,
      toStatus: e.toStatus,
      fromPlan: fromPlan.code,
      plan: toPlan.code,
      actorUserId: e.actorUserId,
      priceCents: e.priceCents,
      currency: e.currency,
      interval: e.interval,
      data: e.data,
      createdAt: e.createdAt,
    })
    .from(e)
    .leftJoin(fromPlan, eq(fromPlan.id, e.fromPlanId))
    .leftJoin(toPlan, eq(toPlan.id, e.toPlanId))
    .where(
      and(
        inArray(
          e.subscriptionId,
          executor
            .select({ id: subscriptions.id })
            .from(subscriptions)
            .where(eq(subscriptions.accountId, accountId)),
        ),
        eq(e.accountId, accountId),
        cursor
          ? sql`(${e.createdAt}, ${e.id}) < (${String(cursor[0])}::timestamptz, ${String(cursor[1])}::uuid)`
          : undefined,
      ),
    )
    .orderBy(desc(e.createdAt), desc(e.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.createdAt.toISOString(), row.id],
    (row): SubscriptionEvent => ({
      id: row.id,
      subscription_id: row.subscriptionId,
      type: row.type,
      from_status: row.fromStatus,
      to_status: row.toStatus,
      from_plan: row.fromPlan,
      plan: row.plan,
      actor_user_id: row.actorUserId,
      price: { amount_cents: row.priceCents, currency: row.currency, interval: row.interval },
      data: readableData(row.data),
      created_at: row.createdAt.toISOString(),
    }),
  )
}
