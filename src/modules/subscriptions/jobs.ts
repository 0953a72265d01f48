// The subscriptions' background work: the hourly sweep, and the announcement of a plan's changed
// entitlements to every account on it.
import { and, asc, eq, gt, ne } from 'drizzle-orm'
import { z } from 'zod'
import type { Db } from '../../core/db.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import { announcePlanEntitlements } from '../plans/jobs.ts'
import { plans } from '../plans/tables.ts'
import { emitEvent } from '../webhooks/events.ts'
import { grantsAccess } from './access.ts'
import { sweep } from './sweep.ts'
import { subscriptions } from './tables.ts'

export const sweepSubscriptions = defineJob({
  name: 'subscriptions.sweep',
  payload: z.object({}).passthrough(),
  schedule: '5 * * * *',
  retryLimit: 2,
  expireInSeconds: 1800,
})

export const sweepSubscriptionsHandler = handleJob(
  sweepSubscriptions,
  async (deps: Parameters<typeof sweep>[0]) => {
    const result = await sweep(deps, deps.clock.now())
    deps.log.info(result, 'subscription sweep done')
  },
)

/** What the announcement runs with: the database, and what emitting an event needs. */
export type AnnouncementContext = Parameters<typeof emitEvent>[1] & { db: Db }

/**
 * `entitlements.updated` for every account on the plan, one short transaction per account,
 * outside the admin's request.
 */
export const announcePlanEntitlementsHandler = handleJob(
  announcePlanEntitlements,
  async (deps: AnnouncementContext, { plan_id }) => {
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
)
