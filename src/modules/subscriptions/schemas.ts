import { z } from 'zod'
import { planIntervals } from '../../core/vocabulary.ts'
import { PlanCode } from '../plans/schemas.ts'
import { subscriptionStatuses, transitionTypes } from './tables.ts'

/** The subscription every example in the document shows. */
export const subscriptionExample = {
  id: '0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12',
  account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
  plan: 'basic',
  status: 'active',
  has_access: true,
  provider: 'manual',
  price: { amount_cents: 1900, currency: 'usd', interval: 'month' },
  current_period_start: '2026-11-01T09:00:00.000Z',
  current_period_end: '2026-12-01T09:00:00.000Z',
  cancel_at_period_end: false,
  canceled_at: null,
  ended_at: null,
  trial_end: null,
  grace_until: null,
  pending_plan: null,
  checkout_url: null,
  created_at: '2026-11-01T09:00:00.000Z',
  updated_at: '2026-11-01T09:00:00.000Z',
}

export const SubscriberPrice = z
  .object({
    amount_cents: z.number().int(),
    currency: z.string(),
    interval: z.enum(planIntervals),
  })
  .meta({ id: 'SubscriberPrice' })

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
    price: SubscriberPrice.describe(
      "What the subscriber pays per period: the plan's price when they subscribed or moved to the plan. A later change of the plan's price does not reach them; a change of plan does.",
    ),
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
  .meta({ id: 'Subscription', example: subscriptionExample })
export type Subscription = z.infer<typeof Subscription>

export const CheckoutStarted = z
  .object({
    checkout_url: z.string().describe('Send the customer here (Stripe Checkout) to pay.'),
    checkout_expires_at: z.iso.datetime(),
    subscription: Subscription.describe(
      '`incomplete` until Stripe confirms the payment (or the trial) by webhook.',
    ),
  })
  .meta({
    id: 'CheckoutStarted',
    example: {
      checkout_url: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4',
      checkout_expires_at: '2026-11-02T09:00:00.000Z',
      subscription: {
        ...subscriptionExample,
        status: 'incomplete',
        has_access: false,
        provider: 'stripe',
        checkout_url: 'https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4',
      },
    },
  })
export type CheckoutStarted = z.infer<typeof CheckoutStarted>

export const SubscribeBody = z.object({ plan: PlanCode }).meta({ example: { plan: 'basic' } })
export type SubscribeBody = z.infer<typeof SubscribeBody>

export const ChangePlanBody = z
  .object({
    plan: PlanCode,
    when: z
      .enum(['now', 'period_end'])
      .default('now')
      .describe(
        '`now`: switch at once (an upgrade is invoiced pro rata); `period_end`: schedule the change.',
      ),
  })
  .meta({ example: { plan: 'pro', when: 'now' } })
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
  .meta({ example: { at_period_end: true } })
export type CancelBody = z.infer<typeof CancelBody>

export const PreviewQuery = z.object({ plan: PlanCode.describe('Code of the plan to preview.') })
export type PreviewQuery = z.infer<typeof PreviewQuery>

export const ChangePreview = z
  .object({
    plan: z.string(),
    current_plan: z.string().nullable().describe('Null when the account has no subscription with access.'),
    change: z.enum(['new', 'upgrade', 'downgrade', 'same']),
    currency: z.string(),
    amount_due_now_cents: z
      .number()
      .int()
      .describe(
        'Charged at once for a change made now: pro rata for the rest of the period (never negative).',
      ),
    price_difference_cents: z
      .number()
      .int()
      .describe('Target price minus current price, per billing period.'),
    next_period_price_cents: z.number().int(),
    period_end: z.iso
      .datetime()
      .describe('When the current (or, for a new subscription, the first) period ends.'),
    trial_end: z.iso
      .datetime()
      .nullable()
      .describe(
        "For a new subscription that would get the plan's trial (the account and its owner have had none): when it ends. Nothing is due until then, and `period_end` is the same instant.",
      ),
    exceeded_limits: z
      .array(z.object({ feature: z.string(), limit: z.number().int(), used: z.number().int() }))
      .describe(
        'Limits of the target plan the account is over today; creations would be refused until it is back under.',
      ),
  })
  .meta({
    id: 'ChangePreview',
    example: {
      plan: 'pro',
      current_plan: 'basic',
      change: 'upgrade',
      currency: 'usd',
      amount_due_now_cents: 1500,
      price_difference_cents: 3000,
      next_period_price_cents: 4900,
      period_end: '2026-12-01T09:00:00.000Z',
      trial_end: null,
      exceeded_limits: [],
    },
  })
export type ChangePreview = z.infer<typeof ChangePreview>

export const SubscriptionEvent = z
  .object({
    id: z.uuid(),
    subscription_id: z.uuid(),
    type: z
      .enum(transitionTypes)
      .describe(
        'What happened: `created`, `activated`, `upgraded`, `downgraded`, `upgrade_awaiting_payment`, `canceled`, `cancel_scheduled`, `resumed`, `past_due`, `recovered`, `renewed`, `change_scheduled`, `scheduled_change_canceled`, `trial_ended`, `expired`, `checkout_expired`, `updated`; and the reminders sent, `trial_will_end` and `grace_ending`, which change nothing. The audit log has the same entry as `subscription.<type>`.',
      ),
    from_status: z.enum(subscriptionStatuses).nullable().describe('Status before; null when `created`.'),
    to_status: z.enum(subscriptionStatuses).describe('Status after (the same as before for a reminder).'),
    from_plan: z.string().nullable().describe('Plan code before; null when `created`.'),
    plan: z.string().nullable().describe('Plan code after the change.'),
    price: SubscriberPrice.describe('What the subscriber pays per period after the change.'),
    actor_user_id: z
      .uuid()
      .nullable()
      .describe(
        'The person who made the change; null when the service (sweep, payment provider, reminders) or an API key did (the audit log names the key).',
      ),
    data: z
      .record(z.string(), z.unknown())
      .describe(
        'Details of the change, by type: `changed` (the fields that changed, e.g. `status`, `plan`, `pending_plan`, `current_period_end`, `cancel_at_period_end`), `trial_days` (created with a trial), `amount_cents` (charged for an upgrade made now), `pending_plan` (a change scheduled for period end), `plan` (the plan of an upgrade awaiting payment), `key` (the occasion of a reminder), `reconciled` (applied by the reconciliation with the payment provider).',
      ),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'SubscriptionEvent',
    example: {
      id: '0192f5c4-a1b2-7c3d-8e4f-5a6b7c8d9e0f',
      subscription_id: subscriptionExample.id,
      type: 'upgraded',
      from_status: 'active',
      to_status: 'active',
      from_plan: 'basic',
      plan: 'pro',
      price: { amount_cents: 4900, currency: 'usd', interval: 'month' },
      actor_user_id: '0192f5c4-7a1e-7b3c-9d2e-4f5a6b7c8d90',
      data: { changed: ['plan'], amount_cents: 1500 },
      created_at: '2026-11-15T10:30:00.000Z',
    },
  })
export type SubscriptionEvent = z.infer<typeof SubscriptionEvent>
