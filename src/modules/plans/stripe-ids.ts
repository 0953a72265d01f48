// A plan's Stripe Product and Price ids: looked up and stored here for the Stripe adapter.
import { and, eq, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import type { PlanRow } from './plans.ts'
import { plans } from './tables.ts'

/** The plan with this code, or null. */
export async function findPlanByCode(executor: Executor, code: string): Promise<PlanRow | null> {
  const [row] = await executor.select().from(plans).where(eq(plans.code, code))
  return row ?? null
}

/** The plan whose current Stripe Price this is, or null. */
export async function findPlanByStripePrice(
  executor: Executor,
  priceId: string | null,
): Promise<PlanRow | null> {
  const [row] = await executor.select().from(plans).where(sql`${plans.stripePriceId} = ${priceId}`)
  return row ?? null
}

/**
 * Stores the Stripe ids made for `plan` unless the plan changed meanwhile (a newer version gets
 * its own Price); returns the updated plan, or null when it had changed.
 */
export async function storeStripeIds(
  executor: Executor,
  plan: Pick<PlanRow, 'id' | 'updatedAt'>,
  ids: Partial<Pick<PlanRow, 'stripeProductId' | 'stripePriceId'>>,
): Promise<PlanRow | null> {
  const [updated] = await executor
    .update(plans)
    .set(ids)
    .where(and(eq(plans.id, plan.id), eq(plans.updatedAt, plan.updatedAt)))
    .returning()
  return updated ?? null
}
