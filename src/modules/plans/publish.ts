// After a plan is created, changed or retired: mirror it at the payment provider (with Stripe, a
// Product and a Price; a new price makes a new Price and archives the old one, so existing
// subscribers keep theirs) and record it in the audit log, in the change's transaction: if Stripe
// fails, the change is not made and the admin gets 503.
import { eq } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import type { Deps } from '../../deps.ts'
import { audit, userActor } from '../audit/audit.ts'
import { announcePlanEntitlements } from '../jobs/definitions/announce-plan-entitlements.ts'
import type { PlanRow } from './plans.ts'
import { plans } from './tables.ts'

export async function publishPlan(
  tx: Executor,
  deps: Pick<Deps, 'billing' | 'clock' | 'jobs'>,
  row: PlanRow,
  previous: PlanRow | null,
  adminId: string,
  action: 'plan.created' | 'plan.updated' | 'plan.retired',
): Promise<PlanRow> {
  let published = row
  if (deps.billing.stripe) {
    const ids = await deps.billing.stripe.syncPlan(tx, row, previous)
    if (ids.stripeProductId !== row.stripeProductId || ids.stripePriceId !== undefined) {
      const [updated] = await tx.update(plans).set(ids).where(eq(plans.id, row.id)).returning()
      if (updated) published = updated
    }
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
    actor: userActor(adminId),
    action,
    subjectType: 'plan',
    subjectId: row.code,
    data: { ...(previous && { changed }), stripe_price_id: published.stripePriceId },
    at: deps.clock.now(),
  })
  return published
}
