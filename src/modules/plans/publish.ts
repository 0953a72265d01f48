// After a plan is created, changed or retired: record it in the audit log (in the change's
// transaction), then mirror it at the payment provider after the commit, with no transaction open
// (with Stripe, a Product and a Price; a new price makes a new Price and archives the old one, so
// existing subscribers keep theirs). A plan whose price changed has no provider price until the
// new one is made, so no Checkout can use the old price for the new amount; if Stripe does not
// answer, the Price is made at the plan's first Checkout instead.
import { and, eq } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Clock } from '../../core/clock.ts'
import type { Db, Executor } from '../../core/db.ts'
import { type AuditActor, audit } from '../audit/audit.ts'
import type { JobSender } from '../jobs/queue.ts'
import { announcePlanEntitlements } from './jobs.ts'
import type { PlanRow } from './plans.ts'
import { plans } from './tables.ts'

/** The payment provider that mirrors plans (Stripe's Products and Prices); null without one. */
export interface PlanMirror {
  syncPlan(
    db: Db,
    plan: PlanRow,
    previous: PlanRow | null,
  ): Promise<Partial<Pick<PlanRow, 'stripeProductId' | 'stripePriceId'>>>
}

/** What publishing a plan needs; the app's `Deps` satisfies it. */
export interface PublishContext {
  billing: { stripe: PlanMirror | null }
  clock: Clock
  jobs: JobSender
  log: Logger
}

export async function publishPlan(
  tx: Executor,
  deps: Pick<PublishContext, 'billing' | 'clock' | 'jobs'>,
  row: PlanRow,
  previous: PlanRow | null,
  actor: AuditActor,
  action: 'plan.created' | 'plan.updated' | 'plan.retired',
): Promise<PlanRow> {
  let published = row
  if (deps.billing.stripe && previous && row.stripePriceId && priceChanged(previous, row)) {
    const [updated] = await tx
      .update(plans)
      .set({ stripePriceId: null })
      .where(eq(plans.id, row.id))
      .returning()
    if (updated) published = updated
  }
  const changed = previous
    ? Object.fromEntries(
        (
          [
            'name',
            'description',
            'priceCents',
            'currency',
            'interval',
            'tier',
            'trialDays',
            'limits',
            'features',
            'isActive',
          ] as const
        )
          .filter((key) => JSON.stringify(previous[key]) !== JSON.stringify(row[key]))
          .map((key) => [key, { from: previous[key], to: row[key] }]),
      )
    : {}
  if (previous && (changed.limits || changed.features || changed.isActive)) {
    // Every account on the plan sees new entitlements: a job tells the integrating product.
    await deps.jobs.enqueue(
      tx,
      announcePlanEntitlements,
      { plan_id: row.id },
      { key: `${row.id}:${row.updatedAt.toISOString()}` },
    )
  }
  await audit(tx, {
    actor,
    action,
    subjectType: 'plan',
    subjectId: row.code,
    data: { ...(previous && { changed }), stripe_price_id: row.stripePriceId },
    at: deps.clock.now(),
  })
  return published
}

const priceChanged = (previous: PlanRow, row: PlanRow) =>
  previous.priceCents !== row.priceCents ||
  previous.currency !== row.currency ||
  previous.interval !== row.interval

/**
 * After the change committed: the Product and Price at Stripe (no transaction open), and their
 * ids stored if the plan was not changed again meanwhile. A Stripe failure is logged and leaves
 * the plan without a price: the first Checkout makes it (see the Stripe provider's `priceOf`).
 */
export async function syncPlanAtProvider(
  db: Db,
  deps: Pick<PublishContext, 'billing' | 'log'>,
  row: PlanRow,
  previous: PlanRow | null,
): Promise<PlanRow> {
  const stripe = deps.billing.stripe
  if (!stripe) return row
  try {
    // The price that was current before the change is the one to archive.
    const ids = await stripe.syncPlan(
      db,
      { ...row, stripePriceId: previous?.stripePriceId ?? row.stripePriceId },
      previous,
    )
    const [updated] = await db
      .update(plans)
      .set(ids)
      .where(and(eq(plans.id, row.id), eq(plans.updatedAt, row.updatedAt)))
      .returning()
    return updated ?? row
  } catch (error) {
    deps.log.warn(
      { err: error, plan: row.code },
      'plan not mirrored at Stripe; its Price is made at the first Checkout',
    )
    return row
  }
}
