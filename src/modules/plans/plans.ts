import { and, asc, eq } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import type { CreatePlanBody, Plan, UpdatePlanBody } from './schemas.ts'
import { plans } from './tables.ts'

export type PlanRow = typeof plans.$inferSelect

/** What someone who subscribes to (or moves to) the plan now pays per period, and keeps paying. */
export const subscriberPrice = (plan: PlanRow) => ({
  priceCents: plan.priceCents,
  currency: plan.currency,
  interval: plan.interval,
})

export function toPlan(row: PlanRow): Plan {
  return {
    code: row.code,
    name: row.name,
    description: row.description,
    price_cents: row.priceCents,
    currency: row.currency,
    interval: row.interval,
    tier: row.tier,
    trial_days: row.trialDays,
    limits: row.limits,
    features: row.features,
    is_active: row.isActive,
  }
}

/** Plans ordered by price (then tier); retired ones only when asked. */
export async function listPlans(tx: Executor, includeInactive: boolean): Promise<PlanRow[]> {
  return tx
    .select()
    .from(plans)
    .where(includeInactive ? undefined : eq(plans.isActive, true))
    .orderBy(asc(plans.priceCents), asc(plans.tier), asc(plans.code))
}

/** A plan by code, retired or not (subscribers of a retired plan still read it). */
export async function getPlan(tx: Executor, code: string): Promise<PlanRow> {
  const [row] = await tx.select().from(plans).where(eq(plans.code, code))
  if (!row) throw notFound('Plan')
  return row
}

/** A plan that new subscriptions may use: exists and is not retired. */
export async function getSubscribablePlan(tx: Executor, code: string): Promise<PlanRow> {
  const [row] = await tx
    .select()
    .from(plans)
    .where(and(eq(plans.code, code), eq(plans.isActive, true)))
  if (!row)
    throw new AppError('validation_failed', `No active plan with code ${code}`, {
      errors: [{ location: 'body.plan', message: 'unknown or retired plan' }],
    })
  return row
}

export async function getPlanById(tx: Executor, id: string): Promise<PlanRow> {
  const [row] = await tx.select().from(plans).where(eq(plans.id, id))
  if (!row) throw notFound('Plan')
  return row
}

function planValues(input: CreatePlanBody, now: Date): typeof plans.$inferInsert {
  return {
    id: newId(),
    code: input.code,
    name: input.name,
    description: input.description,
    priceCents: input.price_cents,
    currency: input.currency,
    interval: input.interval,
    tier: input.tier,
    trialDays: input.trial_days,
    limits: input.limits,
    features: input.features,
    createdAt: now,
    updatedAt: now,
  }
}

export async function createPlan(tx: Executor, input: CreatePlanBody, now: Date): Promise<PlanRow> {
  const [row] = await tx.insert(plans).values(planValues(input, now)).onConflictDoNothing().returning()
  if (!row) throw new AppError('conflict', `A plan with code ${input.code} exists`)
  return row
}

export async function updatePlan(
  tx: Executor,
  code: string,
  input: UpdatePlanBody,
  now: Date,
): Promise<PlanRow> {
  const [row] = await tx
    .update(plans)
    .set({
      ...(input.name !== undefined && { name: input.name }),
      ...(input.description !== undefined && { description: input.description }),
      ...(input.price_cents !== undefined && { priceCents: input.price_cents }),
      ...(input.currency !== undefined && { currency: input.currency }),
      ...(input.interval !== undefined && { interval: input.interval }),
      ...(input.tier !== undefined && { tier: input.tier }),
      ...(input.trial_days !== undefined && { trialDays: input.trial_days }),
      ...(input.limits !== undefined && { limits: input.limits }),
      ...(input.features !== undefined && { features: input.features }),
      ...(input.is_active !== undefined && { isActive: input.is_active }),
      updatedAt: now,
    })
    .where(eq(plans.code, code))
    .returning()
  if (!row) throw notFound('Plan')
  return row
}

/** Soft delete: existing subscribers keep the plan; new subscriptions to it are refused. */
export async function retirePlan(tx: Executor, code: string, now: Date): Promise<void> {
  const [row] = await tx
    .update(plans)
    .set({ isActive: false, updatedAt: now })
    .where(eq(plans.code, code))
    .returning({ id: plans.id })
  if (!row) throw notFound('Plan')
}

/** The seed's plans, created on first start (a plan with the same code is left as it is). */
export const seedPlans: CreatePlanBody[] = [
  {
    code: 'basic',
    name: 'Basic',
    description: 'For a small salon: 2 staff members, 5 bookings a day.',
    price_cents: 1900,
    currency: 'usd',
    interval: 'month',
    tier: 1,
    trial_days: 0,
    limits: { staff: 2, bookings_per_day: 5 },
    features: {},
  },
  {
    code: 'pro',
    name: 'Pro',
    description: 'For a busy salon: 5 staff members, 20 bookings a day.',
    price_cents: 4900,
    currency: 'usd',
    interval: 'month',
    tier: 2,
    trial_days: 0,
    limits: { staff: 5, bookings_per_day: 20 },
    features: {},
  },
]

export async function ensureSeedPlans(tx: Executor, now: Date): Promise<string[]> {
  const created: string[] = []
  for (const plan of seedPlans) {
    const rows = await tx
      .insert(plans)
      .values(planValues(plan, now))
      .onConflictDoNothing({ target: plans.code })
      .returning({ code: plans.code })
    created.push(...rows.map((row) => row.code))
  }
  return created
}
