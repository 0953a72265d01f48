import { z } from 'zod'
import { isIsoDate } from '../../core/time.ts'
import { featureKeyPattern } from '../plans/features.ts'

export const IsoDate = z.string().refine(isIsoDate, 'a date as YYYY-MM-DD')

export const EntitlementsQuery = z.object({
  date: IsoDate.optional().describe('Day (account-local) for per-period figures; default today.'),
})

const Limited = {
  limit: z.number().int().nullable().describe('null = unlimited'),
  used: z.number().int(),
  remaining: z.number().int().nullable().describe('null = unlimited; 0 without access'),
  over_limit: z
    .boolean()
    .describe('More used than the plan allows (after a downgrade); creations are refused.'),
}

export const FeatureEntitlement = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('count'), ...Limited }),
  z.object({
    kind: z.literal('per_day'),
    date: z.string(),
    resets_at: z.iso.datetime(),
    ...Limited,
  }),
  z.object({
    kind: z.literal('per_month'),
    month: z.string(),
    resets_at: z.iso.datetime(),
    ...Limited,
  }),
  z.object({ kind: z.literal('boolean'), enabled: z.boolean() }),
])
export type FeatureEntitlement = z.infer<typeof FeatureEntitlement>

export const Entitlements = z
  .object({
    account_id: z.uuid(),
    plan: z.string().nullable().describe('Code of the plan granting access, if any.'),
    status: z.string().nullable().describe('Subscription status as of now; null without a subscription.'),
    has_access: z.boolean(),
    timezone: z.string(),
    features: z.record(z.string(), FeatureEntitlement),
  })
  .meta({
    id: 'Entitlements',
    example: {
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      plan: 'basic',
      status: 'active',
      has_access: true,
      timezone: 'Europe/Paris',
      features: {
        staff: { kind: 'count', limit: 2, used: 1, remaining: 1, over_limit: false },
        bookings_per_day: {
          kind: 'per_day',
          date: '2026-11-28',
          resets_at: '2026-11-28T23:00:00.000Z',
          limit: 5,
          used: 3,
          remaining: 2,
          over_limit: false,
        },
        sms_reminders: { kind: 'boolean', enabled: false },
      },
    },
  })
export type Entitlements = z.infer<typeof Entitlements>

export const UsageBody = z
  .object({
    feature: z
      .string()
      .regex(featureKeyPattern, 'a lowercase feature key')
      .describe('A metered feature: a key some plan names in `limits` and not a resource-backed one.'),
    quantity: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .refine((value) => value !== 0, 'not zero')
      .describe('Units to consume; negative to release units (never below zero).'),
    date: IsoDate.optional().describe(
      'For per-period features: the account-local day to count on; default today.',
    ),
  })
  .meta({ example: { feature: 'api_calls_per_month', quantity: 1 } })
export type UsageBody = z.infer<typeof UsageBody>

export const UsageResult = z
  .object({
    feature: z.string(),
    kind: z.enum(['count', 'per_day', 'per_month']),
    period: z.string().describe("'' for count features, YYYY-MM-DD or YYYY-MM otherwise."),
    limit: z.number().int().nullable(),
    used: z.number().int(),
    remaining: z.number().int().nullable(),
  })
  .meta({
    id: 'UsageResult',
    example: {
      feature: 'api_calls_per_month',
      kind: 'per_month',
      period: '2026-11',
      limit: 10000,
      used: 4211,
      remaining: 5789,
    },
  })
export type UsageResult = z.infer<typeof UsageResult>

export const CheckBody = z
  .object({
    feature: z
      .string()
      .regex(featureKeyPattern, 'a lowercase feature key')
      .describe(
        'Any known feature: a limit, metered or resource-backed (`staff`, `bookings_per_day`), or a flag.',
      ),
    quantity: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1)
      .describe('The units the caller means to use; default 1. Ignored for a flag.'),
    date: IsoDate.optional().describe(
      'A limit counted per day or per month: the account-local day to check (its month, for a monthly limit), as a booking starting that day would count; default today. Ignored for other features.',
    ),
  })
  .meta({ example: { feature: 'bookings_per_day', quantity: 2, date: '2030-03-10' } })
export type CheckBody = z.infer<typeof CheckBody>

export const CheckResult = z
  .object({
    allowed: z
      .boolean()
      .describe(
        'A limit: the account has access and `used + quantity` fits the limit (or it is unlimited). A flag: the account has access and its plan turns the flag on.',
      ),
    feature: z.string(),
    limit: z
      .number()
      .int()
      .nullable()
      .describe(
        "The plan's limit (0 when the plan lacks the feature); null = unlimited, and null for a flag.",
      ),
    used: z
      .number()
      .int()
      .nullable()
      .describe(
        "Used in the current period (today's or this month's, in the account's time zone, for per-period features); null for a flag.",
      ),
    remaining: z
      .number()
      .int()
      .nullable()
      .describe('null = unlimited, and null for a flag; 0 without access.'),
  })
  .meta({
    id: 'CheckResult',
    example: { allowed: true, feature: 'bookings_per_day', limit: 5, used: 3, remaining: 2 },
  })
export type CheckResult = z.infer<typeof CheckResult>

export const UsageHistoryQuery = z.object({
  feature: z
    .string()
    .regex(featureKeyPattern, 'a lowercase feature key')
    .describe('A limit counted per day (`…_per_day`, e.g. `bookings_per_day`) or per month (`…_per_month`).'),
  from: IsoDate.optional().describe(
    'First account-local day of the range (for a monthly limit, its month); default: 29 days before `to` (11 months before, for a monthly limit).',
  ),
  to: IsoDate.optional().describe(
    'Last account-local day of the range, included (for a monthly limit, its month); default today in the account’s time zone.',
  ),
})
export type UsageHistoryQuery = z.infer<typeof UsageHistoryQuery>

export const UsageHistory = z
  .object({
    feature: z.string(),
    period_kind: z
      .enum(['day', 'month'])
      .describe('What one entry counts: an account-local day (YYYY-MM-DD) or month (YYYY-MM).'),
    from: z.string().describe('The first period of the range.'),
    to: z.string().describe('The last period of the range, included.'),
    limit: z
      .number()
      .int()
      .nullable()
      .describe(
        "The current plan's limit per period: null = unlimited, 0 when the plan lacks the feature or the account has no live subscription. Today's limit, drawn against past periods too.",
      ),
    data: z
      .array(
        z.object({
          period: z.string().describe('YYYY-MM-DD or YYYY-MM, account-local.'),
          used: z.number().int().describe('Units counted in the period (0 when nothing was).'),
        }),
      )
      .describe('One entry per period from `from` to `to`, oldest first, zeros included.'),
  })
  .meta({
    id: 'UsageHistory',
    example: {
      feature: 'bookings_per_day',
      period_kind: 'day',
      from: '2026-11-26',
      to: '2026-11-28',
      limit: 5,
      data: [
        { period: '2026-11-26', used: 4 },
        { period: '2026-11-27', used: 0 },
        { period: '2026-11-28', used: 3 },
      ],
    },
  })
export type UsageHistory = z.infer<typeof UsageHistory>
