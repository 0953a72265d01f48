// After an admin changes a plan's limits or features: `entitlements.updated` for every account on
// the plan, one short transaction per account, outside the admin's request.
import { and, asc, eq, gt, ne } from 'drizzle-orm'
import { z } from 'zod'
import { plans } from '../../plans/tables.ts'
import { grantsAccess } from '../../subscriptions/access.ts'
import { subscriptions } from '../../subscriptions/tables.ts'
import { emitEvent } from '../../webhooks/events.ts'
import { defineJob } from '../define.ts'

export const announcePlanEntitlements = defineJob({
  name: 'plans.announce-entitlements',
  payload: z.object({ plan_id: z.uuid() }),
  retryLimit: 5,
  expireInSeconds: 3600,
  async handler({ deps }, { plan_id }) {
    const [plan] = await deps.db.select({ code: plans.code }).from(plans).where(eq(plans.id, plan_id))
    if (!plan) return
    let after = '00000000-0000-0000-0000-000000000000'
    for (;;) {
      const batch = await deps.db
        .select()
        .from(subscriptions)
        .where(
          and(
            eq(subscriptions.planId, plan_id),
            ne(subscriptions.status, 'expired'),
            gt(subscriptions.id, after),
          ),
        )
        .orderBy(asc(subscriptions.id))
        .limit(200)
      if (batch.length === 0) return
      const now = deps.clock.now()
      for (const subscription of batch) {
        await deps.db.transaction((tx) =>
          emitEvent(tx, deps, {
            type: 'entitlements.updated',
            accountId: subscription.accountId,
            data: {
              account_id: subscription.accountId,
              plan: plan.code,
              has_access: grantsAccess(subscription, now),
              reason: 'plan_updated',
            },
          }),
        )
        after = subscription.id
      }
    }
  },
})
