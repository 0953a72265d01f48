import { z } from 'zod'
import { planIntervals } from '../../core/vocabulary.ts'
import { featureKeyPattern } from './features.ts'

export const PlanCode = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a lowercase slug')
  .describe('Plan code (slug).')

export const PlanParams = z.object({ code: PlanCode })

const FeatureKey = z.string().regex(featureKeyPattern, 'a lowercase feature key')

export const Limits = z
  .record(FeatureKey, z.number().int().min(0).max(1_000_000_000).nullable())
  .describe(
    'Feature key → limit; null = unlimited, a missing key = not included. Keys ending `_per_day`/`_per_month` count events per period, others count live resources.',
  )

export const Features = z.record(FeatureKey, z.boolean()).describe('Boolean feature flags.')

export const Plan = z
  .object({
    code: z.string(),
    name: z.string(),
    description: z.string(),
    price_cents: z.number().int(),
    currency: z.string(),
    interval: z.enum(planIntervals),
    tier: z.number().int(),
    trial_days: z.number().int(),
    limits: z.record(z.string(), z.number().nullable()),
    features: z.record(z.string(), z.boolean()),
    is_active: z.boolean(),
  })
  .meta({
    id: 'Plan',
    example: {
      code: 'basic',
      name: 'Basic',
      description: 'For a small salon.',
      price_cents: 1900,
      currency: 'usd',
      interval: 'month',
      tier: 1,
      trial_days: 14,
      limits: { staff: 2, bookings_per_day: 5 },
      features: { sms_reminders: false },
      is_active: true,
    },
  })
export type Plan = z.infer<typeof Plan>

export const PlanList = z.object({ data: z.array(Plan) }).meta({ example: { data: [Plan.meta()?.example] } })

// The editable fields without defaults: an update must only touch the fields it names (with
// defaults, Zod 4 fills every omitted field of a `.partial()` object and a PATCH would reset them).
const planFields = {
  name: z.string().trim().min(1).max(120),
  description: z.string().max(2000),
  price_cents: z.number().int().min(0).max(100_000_000),
  currency: z
    .string()
    .regex(/^[a-zA-Z]{3}$/, 'an ISO 4217 code')
    .transform((value) => value.toLowerCase()),
  interval: z.enum(planIntervals),
  tier: z.number().int().min(0).max(1000),
  trial_days: z.number().int().min(0).max(365),
  limits: Limits,
  features: Features,
}

export const CreatePlanBody = z
  .object({
    code: PlanCode,
    ...planFields,
    description: planFields.description.default(''),
    currency: planFields.currency.default('usd'),
    interval: planFields.interval.default('month'),
    tier: planFields.tier.default(0),
    trial_days: planFields.trial_days.default(0),
    limits: planFields.limits.default({}),
    features: planFields.features.default({}),
  })
  .meta({
    example: {
      code: 'team',
      name: 'Team',
      description: 'For a growing salon.',
      price_cents: 4900,
      currency: 'usd',
      interval: 'month',
      tier: 2,
      trial_days: 14,
      limits: { staff: 10, bookings_per_day: null },
      features: { sms_reminders: true },
    },
  })
export type CreatePlanBody = z.infer<typeof CreatePlanBody>

export const UpdatePlanBody = z
  .object(planFields)
  .partial()
  .extend({ is_active: z.boolean().optional().describe('Set true to bring back a retired plan.') })
  .strict()
  .meta({ example: { price_cents: 2400, limits: { staff: 3, bookings_per_day: 8 } } })
export type UpdatePlanBody = z.infer<typeof UpdatePlanBody>

export const ListPlansQuery = z.object({
  include_inactive: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => value === 'true')
    .describe('Site admins and site keys with plans:write only: include retired plans.'),
})
