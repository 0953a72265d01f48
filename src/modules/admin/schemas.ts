import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'
import { auditActorTypes } from '../audit/audit.ts'
import { IsoDate } from '../entitlements/schemas.ts'
import { PlanCode } from '../plans/schemas.ts'
import { Subscription, subscriptionExample } from '../subscriptions/schemas.ts'
import { subscriptionStatuses } from '../subscriptions/tables.ts'

/** The currency `mrr_cents` is reported in; other currencies appear in `mrr_by_currency` only. */
export const defaultCurrency = 'usd'

export const subscriptionProviders = ['manual', 'stripe'] as const

const Filter = z.string().trim().min(1).max(200)

export const ListSubscriptionsQuery = PaginationQuery.extend({
  status: z
    .enum(subscriptionStatuses)
    .optional()
    .describe(
      'The stored status. A subscription whose period is over but not yet swept matches its stored status (e.g. `active`) while it reads `expired` in the result.',
    ),
  plan: PlanCode.optional(),
  provider: z.enum(subscriptionProviders).optional(),
  account_id: z.uuid().optional(),
})
export type ListSubscriptionsQuery = z.infer<typeof ListSubscriptionsQuery>

export const AdminSubscription = Subscription.extend({ account_name: z.string() }).meta({
  id: 'AdminSubscription',
  example: { ...subscriptionExample, account_name: 'Chic-Chic' },
})
export type AdminSubscription = z.infer<typeof AdminSubscription>

export const ListAccountsQuery = PaginationQuery.extend({
  q: Filter.optional().describe('A case-insensitive part of the account name, or an exact account id.'),
})
export type ListAccountsQuery = z.infer<typeof ListAccountsQuery>

export const AdminAccount = z
  .object({
    id: z.uuid(),
    name: z.string(),
    timezone: z.string(),
    created_at: z.iso.datetime(),
    stripe_customer_id: z.string().nullable(),
    member_count: z.number().int(),
    owner_email: z.string().nullable().describe('The first owner; null if the account has none.'),
    subscription: z
      .object({
        id: z.uuid(),
        plan: z.string().describe('Plan code.'),
        status: z.enum(subscriptionStatuses).describe('As of this request, like the subscription itself.'),
        has_access: z.boolean(),
        current_period_end: z.iso.datetime(),
      })
      .nullable()
      .describe("The account's latest subscription, live or not; null if it never had one."),
  })
  .meta({
    id: 'AdminAccount',
    example: {
      id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      name: 'Chic-Chic',
      timezone: 'Europe/Paris',
      created_at: '2026-11-01T09:00:00.000Z',
      stripe_customer_id: null,
      member_count: 2,
      owner_email: 'ann@example.com',
      subscription: {
        id: '0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12',
        plan: 'basic',
        status: 'active',
        has_access: true,
        current_period_end: '2026-12-01T09:00:00.000Z',
      },
    },
  })
export type AdminAccount = z.infer<typeof AdminAccount>

export const Metrics = z
  .object({
    as_of: z.iso.datetime(),
    currency: z.string().describe('The currency of `mrr_cents`: `usd`.'),
    mrr_cents: z
      .number()
      .int()
      .describe(
        'Monthly recurring revenue in `currency`: each subscription counts what its subscriber pays; a yearly price a twelfth, rounded.',
      ),
    mrr_by_currency: z
      .record(z.string(), z.number().int())
      .describe('MRR per currency, for every currency with a paying subscription.'),
    active_by_plan: z
      .array(
        z.object({
          plan: z.string(),
          currency: z.string(),
          count: z.number().int().describe('Paying subscriptions with access on this plan.'),
          mrr_cents: z.number().int().describe("Their MRR, in the plan's currency."),
        }),
      )
      .describe('The subscriptions counted in MRR, by plan, largest MRR first.'),
    trialing: z.number().int(),
    past_due: z.number().int().describe('Past due and still in the grace period.'),
    active: z.number().int(),
    canceled_pending: z.number().int().describe('Canceled but with access until their period ends.'),
    churn_30d: z.object({
      canceled_or_expired: z
        .number()
        .int()
        .describe('Subscriptions, canceled or expired, whose access ended in the last 30 days.'),
      active_at_start: z
        .number()
        .int()
        .describe('Subscriptions created before the window that had not ended when it began.'),
      rate: z
        .number()
        .describe('`canceled_or_expired / active_at_start`, 4 decimals; 0 when nothing was active.'),
    }),
  })
  .meta({
    id: 'AdminMetrics',
    example: {
      as_of: '2026-11-28T12:00:00.000Z',
      currency: 'usd',
      mrr_cents: 68800,
      mrr_by_currency: { usd: 68800 },
      active_by_plan: [
        { plan: 'pro', currency: 'usd', count: 8, mrr_cents: 39200 },
        { plan: 'basic', currency: 'usd', count: 16, mrr_cents: 29600 },
      ],
      trialing: 3,
      past_due: 1,
      active: 24,
      canceled_pending: 2,
      churn_30d: { canceled_or_expired: 1, active_at_start: 22, rate: 0.0455 },
    },
  })
export type Metrics = z.infer<typeof Metrics>

export const seriesIntervals = ['day', 'week', 'month'] as const
export type SeriesInterval = (typeof seriesIntervals)[number]

/** The most points one series answers. */
export const maxSeriesPoints = 366

export const MetricsSeriesQuery = z
  .object({
    from: IsoDate.optional().describe('The first UTC day (default: 89 days before `to`).'),
    to: IsoDate.optional().describe('The last UTC day, at most today (default today).'),
    interval: z
      .enum(seriesIntervals)
      .default('day')
      .describe('One point per day, per 7 days from `from`, or per calendar month from `from`; default day.'),
  })
  .strict()
export type MetricsSeriesQuery = z.infer<typeof MetricsSeriesQuery>

const PlanFigures = z.object({
  plan: z.string(),
  currency: z.string(),
  count: z.number().int().describe('Paying subscriptions with access on this plan.'),
  mrr_cents: z.number().int().describe("Their MRR, in the plan's currency."),
})

export const MetricsPoint = z.object({
  date: z.iso.date().describe('The first UTC day of the point (its day, week or month).'),
  end: z.iso
    .datetime()
    .describe(
      "The instant the figures are taken at: the end of the point's interval, or now for the current one.",
    ),
  mrr_cents: z.number().int().describe('MRR in `usd` at the end of the day.'),
  mrr_by_currency: z
    .record(z.string(), z.number().int())
    .describe('MRR per currency at the end of the day, for every currency with a paying subscription.'),
  active_by_plan: z
    .array(PlanFigures)
    .describe('The subscriptions counted in MRR at the end of the day, by plan, largest MRR first.'),
  trialing: z.number().int().describe('Trialing with access at the end of the day.'),
  past_due: z.number().int().describe('Past due and still in the grace period at the end of the day.'),
  active: z.number().int().describe('Active with access at the end of the day.'),
  canceled_pending: z
    .number()
    .int()
    .describe('Canceled but with access until their period ends, at the end of the day.'),
  cancellations: z
    .number()
    .int()
    .describe('Cancellations made during the day, immediate or at period end (a resumed one still counts).'),
  churned: z
    .number()
    .int()
    .describe(
      'Subscriptions, canceled or expired, whose access ended during the day (up to now for today): the daily counterpart of `churn_30d.canceled_or_expired`.',
    ),
})
export type MetricsPoint = z.infer<typeof MetricsPoint>

export const MetricsSeries = z
  .object({
    as_of: z.iso.datetime(),
    currency: z.string().describe('The currency of `mrr_cents`: `usd`.'),
    interval: z.enum(seriesIntervals),
    points: z.array(MetricsPoint).describe('One point per interval from `from` to `to`, oldest first.'),
  })
  .meta({
    id: 'AdminMetricsSeries',
    example: {
      as_of: '2026-11-28T12:00:00.000Z',
      currency: 'usd',
      interval: 'day',
      points: [
        {
          date: '2026-11-27',
          end: '2026-11-28T00:00:00.000Z',
          mrr_cents: 63900,
          mrr_by_currency: { usd: 63900 },
          active_by_plan: [
            { plan: 'pro', currency: 'usd', count: 7, mrr_cents: 34300 },
            { plan: 'basic', currency: 'usd', count: 16, mrr_cents: 29600 },
          ],
          trialing: 4,
          past_due: 1,
          active: 22,
          canceled_pending: 2,
          cancellations: 1,
          churned: 0,
        },
        {
          date: '2026-11-28',
          end: '2026-11-28T12:00:00.000Z',
          mrr_cents: 68800,
          mrr_by_currency: { usd: 68800 },
          active_by_plan: [
            { plan: 'pro', currency: 'usd', count: 8, mrr_cents: 39200 },
            { plan: 'basic', currency: 'usd', count: 16, mrr_cents: 29600 },
          ],
          trialing: 3,
          past_due: 1,
          active: 24,
          canceled_pending: 2,
          cancellations: 0,
          churned: 1,
        },
      ],
    },
  })
export type MetricsSeries = z.infer<typeof MetricsSeries>

export const ListStripeEventsQuery = PaginationQuery.extend({
  type: Filter.optional().describe('The Stripe event type, e.g. `invoice.paid`.'),
  processed: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => (value === undefined ? undefined : value === 'true'))
    .describe('`false`: events still waiting to be applied (or failing).'),
  include: z.enum(['payload']).optional().describe('`payload` adds each event as Stripe sent it.'),
})
export type ListStripeEventsQuery = z.infer<typeof ListStripeEventsQuery>

export const ReceivedStripeEvent = z
  .object({
    id: z.string().describe('The Stripe event id.'),
    type: z.string(),
    event_created_at: z.iso.datetime(),
    received_at: z.iso.datetime(),
    processed_at: z.iso
      .datetime()
      .nullable()
      .describe('Null until the change the event carries is committed.'),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).optional().describe('With `include=payload` only.'),
  })
  .meta({
    // The published component name (part of the API contract) stays as it was.
    id: 'ReceivedWebhookEvent',
    example: {
      id: 'evt_1QbCdEfGhIjKlMnO',
      type: 'invoice.paid',
      event_created_at: '2026-11-01T09:00:00.000Z',
      received_at: '2026-11-01T09:00:01.000Z',
      processed_at: '2026-11-01T09:00:01.000Z',
      attempts: 1,
      last_error: null,
    },
  })
export type ReceivedStripeEvent = z.infer<typeof ReceivedStripeEvent>

export const ListAuditLogQuery = PaginationQuery.extend({
  action: Filter.optional().describe(
    'A dotted verb, e.g. `auth.sign_in_failed`, or a prefix ending in `.*` (`auth.*`: every sign-in and credential event).',
  ),
  account_id: z.uuid().optional(),
  actor_type: z
    .enum(auditActorTypes)
    .optional()
    .describe('Who acted: `user`, `key` (an API key), `system`, `provider` or `anonymous`.'),
  actor_user_id: z.uuid().optional(),
  actor_key_id: z.uuid().optional(),
  subject_type: Filter.optional(),
  subject_id: Filter.optional(),
})
export type ListAuditLogQuery = z.infer<typeof ListAuditLogQuery>

export const AuditEntry = z
  .object({
    id: z.uuid(),
    actor_type: z
      .enum(auditActorTypes)
      .describe(
        '`user`, `key` (an API key), `system` (jobs, sweeps), `provider` (Stripe webhooks) or `anonymous` (failed sign-ins, rate-limit lockouts).',
      ),
    actor_user_id: z.uuid().nullable(),
    actor_key_id: z.uuid().nullable().describe('The API key that acted (actor type `key`).'),
    account_id: z.uuid().nullable(),
    action: z.string(),
    subject_type: z.string(),
    subject_id: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'AuditEntry',
    example: {
      id: '0192f5c5-6da1-7fc4-86b1-3c4d5e6f7a89',
      actor_type: 'user',
      actor_user_id: '0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90',
      actor_key_id: null,
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      action: 'subscription.canceled',
      subject_type: 'subscription',
      subject_id: '0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12',
      data: { at_period_end: true },
      created_at: '2026-11-20T15:04:00.000Z',
    },
  })
export type AuditEntry = z.infer<typeof AuditEntry>

export const JobParams = z.object({
  id: z.uuid().describe("The job's id, as `GET /v1/admin/jobs` lists it."),
})
