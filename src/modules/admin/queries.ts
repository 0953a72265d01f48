// Read-only queries for operators across every account. Each is one bounded statement; the lists
// page with opaque cursors over their sort key.
import { and, desc, eq, ilike, isNotNull, isNull, like, lt, or, type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, queryRow, queryRows } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/http.ts'
import { accountMembers, accounts } from '../accounts/tables.ts'
import type { AuditActorType } from '../audit/audit.ts'
import { auditLog } from '../audit/tables.ts'
import { users } from '../auth/tables.ts'
import { plans } from '../plans/tables.ts'
import { stripeEvents } from '../stripe/tables.ts'
import { effectiveStatus, grantsAccess, grantsAccessSql } from '../subscriptions/access.ts'
import { toSubscription } from '../subscriptions/lifecycle.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import {
  type AdminAccount,
  type AdminSubscription,
  type AuditEntry,
  defaultCurrency,
  type ListAccountsQuery,
  type ListAuditLogQuery,
  type ListStripeEventsQuery,
  type ListSubscriptionsQuery,
  type Metrics,
  type MetricsPoint,
  type MetricsSeries,
  type MetricsSeriesQuery,
  maxSeriesPoints,
  type ReceivedStripeEvent,
} from './schemas.ts'

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// A timestamp as the cursor carries it: UTC with microseconds, the database's own precision.
const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

const invalidCursor = () =>
  new AppError('validation_failed', 'Invalid cursor', {
    errors: [{ location: 'query.cursor', message: 'invalid cursor' }],
  })

/** The id after which a list sorted by a uuid (newest first) continues, if any. */
function idCursor(cursor: string | undefined): string | undefined {
  const values = decodeCursor(cursor, 1)
  if (!values) return undefined
  const [id] = values
  if (typeof id !== 'string' || !uuidPattern.test(id)) throw invalidCursor()
  return id
}

const pendingPlans = alias(plans, 'pending_plans')

/** Every account's subscriptions, newest first, filtered on their stored fields. */
export async function listSubscriptions(tx: Executor, query: ListSubscriptionsQuery, now: Date) {
  const after = idCursor(query.cursor)
  const rows = await tx
    .select({
      subscription: subscriptions,
      plan: plans.code,
      pendingPlan: pendingPlans.code,
      accountName: accounts.name,
    })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .leftJoin(pendingPlans, eq(pendingPlans.id, subscriptions.pendingPlanId))
    .innerJoin(accounts, eq(accounts.id, subscriptions.accountId))
    .where(
      and(
        query.status ? eq(subscriptions.status, query.status) : undefined,
        query.plan ? eq(plans.code, query.plan) : undefined,
        query.provider ? eq(subscriptions.provider, query.provider) : undefined,
        query.account_id ? eq(subscriptions.accountId, query.account_id) : undefined,
        after ? lt(subscriptions.id, after) : undefined,
      ),
    )
    .orderBy(desc(subscriptions.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.subscription.id],
    (row): AdminSubscription => ({
      ...toSubscription(row.subscription, row.plan, row.pendingPlan, now),
      account_name: row.accountName,
    }),
  )
}

/** `q` as a literal ILIKE pattern: its own `%`, `_` and `\` match themselves. */
const containing = (q: string) => `%${q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`

/**
 * Accounts newest first, with their member count, first owner and latest subscription, in one
 * statement: the counts and the owner are correlated subqueries, the subscription a lateral join.
 */
export async function listAccounts(tx: Executor, query: ListAccountsQuery, now: Date) {
  const after = idCursor(query.cursor)
  const latest = tx
    .select({
      id: subscriptions.id,
      status: subscriptions.status,
      provider: subscriptions.provider,
      currentPeriodEnd: subscriptions.currentPeriodEnd,
      graceUntil: subscriptions.graceUntil,
      endedAt: subscriptions.endedAt,
      plan: plans.code,
    })
    .from(subscriptions)
    .innerJoin(plans, eq(plans.id, subscriptions.planId))
    .where(eq(subscriptions.accountId, accounts.id))
    .orderBy(desc(subscriptions.id))
    .limit(1)
    .as('latest')
  const { q } = query
  const matches: SQL | undefined = q
    ? uuidPattern.test(q)
      ? or(eq(accounts.id, q), ilike(accounts.name, containing(q)))
      : ilike(accounts.name, containing(q))
    : undefined
  const rows = await tx
    .select({
      account: accounts,
      memberCount:
        sql<number>`(select count(*) from ${accountMembers} where ${accountMembers.accountId} = ${accounts.id})`.mapWith(
          Number,
        ),
      ownerEmail: sql<string | null>`(select ${users.email} from ${accountMembers}
        join ${users} on ${users.id} = ${accountMembers.userId}
        where ${accountMembers.accountId} = ${accounts.id} and ${accountMembers.role} = 'owner'
        order by ${accountMembers.createdAt}, ${accountMembers.userId} limit 1)`,
      latest: {
        id: latest.id,
        status: latest.status,
        provider: latest.provider,
        currentPeriodEnd: latest.currentPeriodEnd,
        graceUntil: latest.graceUntil,
        endedAt: latest.endedAt,
        plan: latest.plan,
      },
    })
    .from(accounts)
    .leftJoinLateral(latest, sql`true`)
    .where(and(matches, after ? lt(accounts.id, after) : undefined))
    .orderBy(desc(accounts.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.account.id],
    ({ account, memberCount, ownerEmail, latest: sub }): AdminAccount => ({
      id: account.id,
      name: account.name,
      timezone: account.timezone,
      created_at: account.createdAt.toISOString(),
      stripe_customer_id: account.stripeCustomerId,
      member_count: memberCount,
      owner_email: ownerEmail,
      subscription: sub && {
        id: sub.id,
        plan: sub.plan,
        status: effectiveStatus(sub, now),
        has_access: grantsAccess(sub, now),
        current_period_end: sub.currentPeriodEnd.toISOString(),
      },
    }),
  )
}

const dayMs = 24 * 60 * 60 * 1000
const churnWindowDays = 30

interface MetricsRow {
  by_plan: { plan: string; currency: string; count: number; mrr_cents: number }[]
  trialing: number
  past_due: number
  active: number
  canceled_pending: number
  churned: number
  at_start: number
}

/**
 * Revenue and churn at `now`. MRR counts the subscriptions that grant access now and pay:
 * `active`, `past_due` (in grace) and `canceled` before their period ends; not `trialing` or
 * `incomplete`. Each counts what its subscriber pays (a yearly price a twelfth, rounded).
 * Churn: subscriptions canceled or expired whose access ended within the last 30 days, over the
 * subscriptions created before the window that had not ended when it began.
 */
export async function readMetrics(tx: Executor, now: Date): Promise<Metrics> {
  const at = sql`${now.toISOString()}::timestamptz`
  const start = sql`${new Date(now.getTime() - churnWindowDays * dayMs).toISOString()}::timestamptz`
  const row = await queryRow<MetricsRow>(
    tx,
    sql`with subs as (
        select s.status, s.created_at, p.code as plan, s.currency,
          case when s.interval = 'year' then round(s.price_cents::numeric / 12)::bigint
               else s.price_cents::bigint end as monthly_cents,
          ${grantsAccessSql('s', now)} as has_access,
          case when s.status in ('canceled', 'expired')
               then coalesce(s.ended_at, s.current_period_end) end as access_ended_at,
          -- A Stripe Checkout that was never paid was never linked to a Stripe subscription: it never had access.
          (s.provider = 'manual' or s.provider_subscription_id is not null) as ever_live
        from subscriptions s join plans p on p.id = s.plan_id
      ),
      paying as (
        select plan, currency, count(*)::int as count, sum(monthly_cents) as mrr_cents
        from subs
        where has_access and status in ('active', 'past_due', 'canceled')
        group by plan, currency
      )
      select
        (select coalesce(json_agg(paying order by mrr_cents desc, plan), '[]'::json) from paying) as by_plan,
        count(*) filter (where has_access and status = 'trialing')::int as trialing,
        count(*) filter (where has_access and status = 'past_due')::int as past_due,
        count(*) filter (where has_access and status = 'active')::int as active,
        count(*) filter (where has_access and status = 'canceled')::int as canceled_pending,
        count(*) filter (where ever_live and access_ended_at >= ${start} and access_ended_at <= ${at})::int as churned,
        count(*) filter (where ever_live and status <> 'incomplete' and created_at < ${start}
                           and (access_ended_at is null or access_ended_at >= ${start}))::int as at_start
      from subs`,
  )
  if (!row) throw new Error('the metrics query returned no row')
  const byPlan = row.by_plan.map((entry) => ({ ...entry, mrr_cents: Number(entry.mrr_cents) }))
  const mrrByCurrency: Record<string, number> = {}
  for (const entry of byPlan) {
    mrrByCurrency[entry.currency] = (mrrByCurrency[entry.currency] ?? 0) + entry.mrr_cents
  }
  return {
    as_of: now.toISOString(),
    currency: defaultCurrency,
    mrr_cents: mrrByCurrency[defaultCurrency] ?? 0,
    mrr_by_currency: mrrByCurrency,
    active_by_plan: byPlan,
    trialing: row.trialing,
    past_due: row.past_due,
    active: row.active,
    canceled_pending: row.canceled_pending,
    churn_30d: {
      canceled_or_expired: row.churned,
      active_at_start: row.at_start,
      rate: row.at_start === 0 ? 0 : Math.round((row.churned / row.at_start) * 10_000) / 10_000,
    },
  }
}

interface HistoryRow {
  date: string
  /** The instant of the figures (timestamptz, as text or a Date from the driver). */
  end: string | Date
  by_plan: { plan: string; currency: string; count: number; mrr_cents: number }[]
  trialing: number
  past_due: number
  active: number
  canceled_pending: number
  cancellations: number
  churned: number
}

/**
 * The figures of `readMetrics` at the end of each of the last `days` UTC days (today: at `now`),
 * rebuilt in one statement from the subscription history. Each subscription's states are the spans
 * between its recorded transitions; the span since its latest transition is the row itself, so
 * its access is decided by the row's period and grace exactly as `readMetrics` decides it, and
 * today's point is the same as the metrics now. An earlier span grants access by its status
 * (`trialing`, `active`, `past_due`; `canceled` until the subscription's `ended_at`): the expiry
 * that ends it is recorded by the hourly sweep. MRR counts what each subscriber paid then (recorded with every transition).
 */
const utcDay = (at: Date): string => at.toISOString().slice(0, 10)

/** Whole months from `from` to `to` (both YYYY-MM-DD), counting a started one. */
function monthsBetween(from: string, to: string): number {
  const [fy, fm] = from.split('-').map(Number) as [number, number]
  const [ty, tm] = to.split('-').map(Number) as [number, number]
  return (ty - fy) * 12 + (tm - fm) + 1
}

/**
 * The days a series covers: `to` defaults to today (UTC) and may not be later; `from` defaults to
 * 89 days before `to` and may not be after it; at most `maxSeriesPoints` points. 400 otherwise.
 */
export function seriesRange(query: MetricsSeriesQuery, now: Date): { from: string; to: string } {
  const today = utcDay(now)
  const to = query.to ?? today
  const from = query.from ?? utcDay(new Date(Date.parse(`${to}T00:00:00Z`) - 89 * dayMs))
  const refuse = (location: string, message: string) => {
    throw new AppError('validation_failed', `Invalid series range: ${message}`, {
      errors: [{ location, message }],
    })
  }
  if (to > today) refuse('query.to', 'must not be later than today (UTC)')
  if (from > to) refuse('query.from', 'must not be later than `to`')
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / dayMs + 1
  const points =
    query.interval === 'day'
      ? days
      : query.interval === 'week'
        ? Math.ceil(days / 7)
        : monthsBetween(from, to)
  if (points > maxSeriesPoints) refuse('query.from', `at most ${maxSeriesPoints} points (${points} asked)`)
  return { from, to }
}

export async function readMetricsSeries(
  tx: Executor,
  query: MetricsSeriesQuery,
  now: Date,
): Promise<MetricsSeries> {
  const { from, to } = seriesRange(query, now)
  const at = sql`${now.toISOString()}::timestamptz`
  const firstAt = sql`${`${from}T00:00:00Z`}::timestamptz`
  const step = sql.raw(`interval '1 ${query.interval}'`)
  const rows = await queryRows<HistoryRow>(
    tx,
    sql`with days as (
        select d::date as day, d at time zone 'UTC' as day_start, b.next_start,
          least(b.next_start, ${at}) as day_end
        from generate_series(${from}::timestamp, ${to}::timestamp, ${step}) as d,
          lateral (select least((d + ${step}) at time zone 'UTC',
                                (${to}::timestamp + interval '1 day') at time zone 'UTC') as next_start) b
      ),
      -- Reminders change nothing: they are not transitions.
      history as (
        select e.subscription_id, e.to_status as status, e.to_plan_id as plan_id,
          e.price_cents, e.currency, e.interval, e.created_at as valid_from,
          lead(e.created_at) over (partition by e.subscription_id order by e.created_at, e.id) as valid_to
        from subscription_events e
        where e.type not in ('trial_will_end', 'grace_ending')
      ),
      spans as (
        select subscription_id, status, plan_id, price_cents, currency, interval, valid_from, valid_to
        from history where valid_to is not null and valid_to > ${firstAt}
        union all
        -- The current span: the row as it is (status, plan and price null here, read from the row).
        select s.id, null, null, null, null, null, coalesce(h.valid_from, s.created_at), null
        from subscriptions s left join history h on h.subscription_id = s.id and h.valid_to is null
      ),
      states as (
        select d.day, coalesce(sp.status, s.status) as status, p.code as plan,
          coalesce(sp.currency, s.currency) as currency,
          case when coalesce(sp.interval, s.interval) = 'year'
               then round(coalesce(sp.price_cents, s.price_cents)::numeric / 12)::bigint
               else coalesce(sp.price_cents, s.price_cents)::bigint end as monthly_cents,
          case when sp.status is null then ${grantsAccessSql('s', sql`d.day_end`)}
               else sp.status in ('trialing', 'active', 'past_due')
                 or (sp.status = 'canceled' and (s.ended_at is null or s.ended_at > d.day_end)) end as has_access
        from days d
        join spans sp on sp.valid_from <= d.day_end and (sp.valid_to is null or sp.valid_to > d.day_end)
        join subscriptions s on s.id = sp.subscription_id
        join plans p on p.id = coalesce(sp.plan_id, s.plan_id)
      ),
      paying as (
        select day, plan, currency, count(*)::int as count, sum(monthly_cents) as mrr_cents
        from states
        where has_access and status in ('active', 'past_due', 'canceled')
        group by day, plan, currency
      ),
      counts as (
        select day,
          count(*) filter (where has_access and status = 'trialing')::int as trialing,
          count(*) filter (where has_access and status = 'past_due')::int as past_due,
          count(*) filter (where has_access and status = 'active')::int as active,
          count(*) filter (where has_access and status = 'canceled')::int as canceled_pending
        from states group by day
      ),
      ended as (
        select coalesce(s.ended_at, s.current_period_end) as access_ended_at
        from subscriptions s
        where s.status in ('canceled', 'expired')
          -- A Stripe Checkout that was never paid never had access, as in readMetrics.
          and (s.provider = 'manual' or s.provider_subscription_id is not null)
          and coalesce(s.ended_at, s.current_period_end) between ${firstAt} and ${at}
      ),
      cancellations as (
        select created_at from subscription_events
        where type in ('canceled', 'cancel_scheduled') and created_at between ${firstAt} and ${at}
      )
      select to_char(d.day, 'YYYY-MM-DD') as date, d.day_end as end,
        coalesce((select json_agg(json_build_object('plan', p.plan, 'currency', p.currency, 'count', p.count,
                    'mrr_cents', p.mrr_cents) order by p.mrr_cents desc, p.plan)
                  from paying p where p.day = d.day), '[]'::json) as by_plan,
        coalesce(c.trialing, 0) as trialing, coalesce(c.past_due, 0) as past_due,
        coalesce(c.active, 0) as active, coalesce(c.canceled_pending, 0) as canceled_pending,
        (select count(*)::int from cancellations x
          where x.created_at >= d.day_start and x.created_at < d.next_start) as cancellations,
        (select count(*)::int from ended x
          where x.access_ended_at >= d.day_start and x.access_ended_at < d.next_start) as churned
      from days d left join counts c on c.day = d.day
      order by d.day`,
  )
  return {
    as_of: now.toISOString(),
    currency: defaultCurrency,
    interval: query.interval,
    points: rows.map((row): MetricsPoint => {
      const byPlan = row.by_plan.map((entry) => ({ ...entry, mrr_cents: Number(entry.mrr_cents) }))
      const mrrByCurrency: Record<string, number> = {}
      for (const entry of byPlan) {
        mrrByCurrency[entry.currency] = (mrrByCurrency[entry.currency] ?? 0) + entry.mrr_cents
      }
      return {
        date: row.date,
        end: new Date(row.end).toISOString(),
        mrr_cents: mrrByCurrency[defaultCurrency] ?? 0,
        mrr_by_currency: mrrByCurrency,
        active_by_plan: byPlan,
        trialing: row.trialing,
        past_due: row.past_due,
        active: row.active,
        canceled_pending: row.canceled_pending,
        cancellations: row.cancellations,
        churned: row.churned,
      }
    }),
  }
}

/** The received Stripe events, latest received first; the payload only when asked for. */
export async function listStripeEvents(tx: Executor, query: ListStripeEventsQuery) {
  const values = decodeCursor(query.cursor, 2)
  let after: { receivedAt: string; id: string } | undefined
  if (values) {
    const [receivedAt, id] = values
    if (typeof receivedAt !== 'string' || !timestampPattern.test(receivedAt) || typeof id !== 'string') {
      throw invalidCursor()
    }
    after = { receivedAt, id }
  }
  const rows = await tx
    .select({
      event: stripeEvents,
      // The sort key at full precision: a millisecond Date would skip rows within one millisecond.
      receivedKey: sql<string>`to_char(${stripeEvents.receivedAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(stripeEvents)
    .where(
      and(
        query.type ? eq(stripeEvents.type, query.type) : undefined,
        query.processed === undefined
          ? undefined
          : query.processed
            ? isNotNull(stripeEvents.processedAt)
            : isNull(stripeEvents.processedAt),
        after
          ? sql`(${stripeEvents.receivedAt}, ${stripeEvents.id}) < (${after.receivedAt}::timestamptz, ${after.id})`
          : undefined,
      ),
    )
    .orderBy(desc(stripeEvents.receivedAt), desc(stripeEvents.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.receivedKey, row.event.id],
    ({ event }): ReceivedStripeEvent => ({
      id: event.id,
      type: event.type,
      event_created_at: event.eventCreatedAt.toISOString(),
      received_at: event.receivedAt.toISOString(),
      processed_at: event.processedAt?.toISOString() ?? null,
      attempts: event.attempts,
      last_error: event.lastError,
      ...(query.include === 'payload' && { payload: event.payload }),
    }),
  )
}

/** `auth.*` matches every action under `auth.`; anything else matches exactly. */
function actionFilter(action: string) {
  if (!action.endsWith('.*')) return eq(auditLog.action, action)
  const prefix = action.slice(0, -1).replace(/[\\%_]/g, (char) => `\\${char}`)
  return like(auditLog.action, `${prefix}%`)
}

/** The audit log, newest first (ids are time-ordered). */
export async function listAuditLog(tx: Executor, query: ListAuditLogQuery) {
  const after = idCursor(query.cursor)
  const rows = await tx
    .select()
    .from(auditLog)
    .where(
      and(
        query.action ? actionFilter(query.action) : undefined,
        query.account_id ? eq(auditLog.accountId, query.account_id) : undefined,
        query.actor_type ? eq(auditLog.actorType, query.actor_type) : undefined,
        query.actor_user_id ? eq(auditLog.actorUserId, query.actor_user_id) : undefined,
        query.actor_key_id ? eq(auditLog.actorKeyId, query.actor_key_id) : undefined,
        query.subject_type ? eq(auditLog.subjectType, query.subject_type) : undefined,
        query.subject_id ? eq(auditLog.subjectId, query.subject_id) : undefined,
        after ? lt(auditLog.id, after) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.id],
    (row): AuditEntry => ({
      id: row.id,
      actor_type: row.actorType as AuditActorType,
      actor_user_id: row.actorUserId,
      actor_key_id: row.actorKeyId,
      account_id: row.accountId,
      action: row.action,
      subject_type: row.subjectType,
      subject_id: row.subjectId,
      data: row.data,
      created_at: row.createdAt.toISOString(),
    }),
  )
}
