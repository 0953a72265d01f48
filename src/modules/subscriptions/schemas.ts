import { z } from 'zod'
import { PlanCode } from '../plans/schemas.ts'
import { subscriptionStatuses } from './tables.ts'

export const Subscription = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    plan: z.string().describe('Plan code.'),
    status: z
      .enum(subscriptionStatuses)
      .describe(
        'As of this request: a subscription whose period is over reads `expired` even before the sweep.',
      ),
    has_access: z.boolean().describe('Whether the subscription grants access right now.'),
    provider: z.string(),
    current_period_start: z.iso.datetime(),
    current_period_end: z.iso.datetime(),
    cancel_at_period_end: z.boolean(),
    canceled_at: z.iso.datetime().nullable(),
    ended_at: z.iso.datetime().nullable(),
    trial_end: z.iso.datetime().nullable(),
    grace_until: z.iso
      .datetime()
      .nullable()
      .describe(
        'For a `past_due` subscription: access continues until then (GRACE_PERIOD_DAYS after the failed payment).',
      ),
    pending_plan: z
      .string()
      .nullable()
      .describe('Plan code taking over at period end, if a change is scheduled.'),
    checkout_url: z
      .string()
      .nullable()
      .describe('For an `incomplete` subscription (Stripe): where the customer pays to start it.'),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({ id: 'Subscription' })
export type Subscription = z.infer<typeof Subscription>

export const CheckoutStarted = z
  .object({
    checkout_url: z.string().describe('Send the customer here (Stripe Checkout) to pay.'),
    checkout_expires_at: z.iso.datetime(),
    subscription: Subscription.describe(
      '`incomplete` until Stripe confirms the payment (or the trial) by webhook.',
    ),
  })
  .meta({ id: 'CheckoutStarted' })
export type CheckoutStarted = z.infer<typeof CheckoutStarted>

export const SubscribeBody = z.object({ plan: PlanCode })
export type SubscribeBody = z.infer<typeof SubscribeBody>

export const ChangePlanBody = z.object({
  plan: PlanCode,
  when: z
    .enum(['now', 'period_end'])
    .default('now')
    .describe('`now`: switch at once (an upgrade is invoiced pro rata); `period_end`: schedule the change.'),
})
export type ChangePlanBody = z.infer<typeof ChangePlanBody>

export const CancelBody = z
  .object({
    at_period_end: z
      .boolean()
      .default(true)
      .describe('true: keep access until the period ends; false: end access now.'),
  })
  // Fastify validates a request without a body as `null`: no body means the defaults.
  .nullish()
  .transform((body) => body ?? { at_period_end: true })
export type CancelBody = z.infer<typeof CancelBody>
