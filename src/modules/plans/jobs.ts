import { z } from 'zod'
import { defineJob } from '../jobs/define.ts'

/**
 * After an admin changes a plan's limits, features or availability: every account on the plan is
 * told its entitlements changed. Enqueued here, where plans change; the handler lives with the
 * subscriptions it walks (`subscriptions/jobs.ts`), a layer above plans.
 */
export const announcePlanEntitlements = defineJob({
  name: 'plans.announce-entitlements',
  payload: z.object({ plan_id: z.uuid() }),
  retryLimit: 5,
  expireInSeconds: 3600,
})
