// Usage over time, for charts: one entry per account-local day (or month) of a range, read from the
// counters the engine keeps, with the days nothing was counted on as zeros. Not a hot path: the
// route's guard checks the caller, then one query reads the account's context and one the counters.
import { and, between, eq, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, queryRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { addDays } from '../../core/time.ts'
import { accounts } from '../accounts/tables.ts'
import {
  type CatalogueEntry,
  type FeatureKind,
  featureKind,
  isResourceFeature,
  unknownFeature,
} from '../plans/features.ts'
import { plans } from '../plans/tables.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { catalogueSql, limitOf } from './engine.ts'
import type { UsageHistory, UsageHistoryQuery } from './schemas.ts'
import { usageCounters } from './tables.ts'

/** The most periods one answer holds: a year of days (a leap year's too), or 30 years of months. */
export const maxHistoryPeriods = 366

/** How far back the history goes when `from` is not given: 30 days, or 12 months. */
const defaultSpan = { per_day: 30, per_month: 12 } as const

type PeriodicKind = Exclude<FeatureKind, 'count'>

const a = alias(accounts, 'a')
const s = alias(subscriptions, 's')
const p = alias(plans, 'p')

interface HistoryContext {
  /** The account-local day of `now`, YYYY-MM-DD. */
  today: string
  /** The live subscription's plan limit (0: the plan lacks it; null: unlimited). */
  lim: number | null
  subscribed: boolean
  catalogue: CatalogueEntry
}

/** 400 no_usage_history: a live count or a flag has no periods to chart. */
function noUsageHistory(feature: string, what: 'count' | 'flag'): AppError {
  const detail =
    what === 'count'
      ? `"${feature}" is a live count, not counted per day or month; its current figure is in the entitlements`
      : `"${feature}" is an on/off flag of the plans, not a metered limit`
  return new AppError('no_usage_history', detail, { feature })
}

/** A 400 validation_failed about one query parameter. */
function badRange(location: 'from' | 'to', message: string): AppError {
  return new AppError('validation_failed', message, {
    errors: [{ location: `query.${location}`, message }],
  })
}

const dayOf = (date: Date) => date.toISOString().slice(0, 10)
const utcDay = (day: string) => new Date(`${day}T00:00:00Z`)

/** The month `count` months after `month` (YYYY-MM; count may be negative). */
function addMonths(month: string, count: number): string {
  const [year, monthOfYear] = month.split('-').map(Number) as [number, number]
  const index = year * 12 + (monthOfYear - 1) + count
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`
}

/** How many periods lie from `from` to `to`, both included (0 or less when `from` is after `to`). */
function periodCount(kind: PeriodicKind, from: string, to: string): number {
  if (kind === 'per_day') return Math.round((utcDay(to).getTime() - utcDay(from).getTime()) / 86_400_000) + 1
  const months = (key: string) => {
    const [year, month] = key.split('-').map(Number) as [number, number]
    return year * 12 + month
  }
  return months(to) - months(from) + 1
}

/** The periods from `from` to `to`, oldest first. */
function periodsBetween(kind: PeriodicKind, from: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) =>
    kind === 'per_day' ? dayOf(addDays(utcDay(from), index)) : addMonths(from, index),
  )
}

/**
 * The periods of the range asked for: days, or the months of the days given. Without `to`: up to
 * today (this month) in the account's time zone; without `from`: the 30 days (12 months) ending at `to`.
 */
export function historyRange(
  kind: PeriodicKind,
  today: string,
  query: Pick<UsageHistoryQuery, 'from' | 'to'>,
): { from: string; to: string; periods: string[] } {
  const asPeriod = (day: string) => (kind === 'per_day' ? day : day.slice(0, 7))
  const to = asPeriod(query.to ?? today)
  const from =
    query.from !== undefined
      ? asPeriod(query.from)
      : kind === 'per_day'
        ? dayOf(addDays(utcDay(to), 1 - defaultSpan.per_day))
        : addMonths(to, 1 - defaultSpan.per_month)
  const count = periodCount(kind, from, to)
  if (count < 1) throw badRange('from', '`from` is after `to`')
  if (count > maxHistoryPeriods) {
    throw badRange('from', `At most ${maxHistoryPeriods} ${kind === 'per_day' ? 'days' : 'months'} at once`)
  }
  return { from, to, periods: periodsBetween(kind, from, count) }
}

/**
 * The usage of a per-day or per-month limit over a range of account-local periods, one entry per
 * period (zeros included), beside the current plan's limit. The caller's access is checked by the
 * route's guard. 404 for an unknown account or feature; 400 no_usage_history for a count limit
 * (`staff`: a live count, with no periods) and for a plan flag.
 */
export async function readUsageHistory(
  executor: Executor,
  accountId: string,
  query: UsageHistoryQuery,
  now: Date,
): Promise<UsageHistory> {
  const { feature } = query
  const kind = featureKind(feature)
  const resource = isResourceFeature(feature)
  const context = await queryRow<HistoryContext>(
    executor,
    sql`select
      to_char((${now.toISOString()}::timestamptz at time zone ${a.timezone})::date, 'YYYY-MM-DD') as today,
      (select ${limitOf(feature)} from ${subscriptions} ${s} join ${plans} ${p} on ${p.id} = ${s.planId}
        where ${s.accountId} = ${a.id} and ${s.status} <> 'expired') as lim,
      exists (select 1 from ${subscriptions} ${s} where ${s.accountId} = ${a.id} and ${s.status} <> 'expired') as subscribed,
      ${catalogueSql(resource, feature)} as catalogue
    from ${accounts} ${a} where ${a.id} = ${accountId}::uuid`,
  )
  if (!context) throw notFound('Account')
  if (context.catalogue === null) throw unknownFeature(feature)
  if (context.catalogue === 'flag') throw noUsageHistory(feature, 'flag')
  if (kind === 'count') throw noUsageHistory(feature, 'count')
  const { from, to, periods } = historyRange(kind, context.today, query)
  const rows = await executor
    .select({ period: usageCounters.period, used: usageCounters.used })
    .from(usageCounters)
    .where(
      and(
        eq(usageCounters.accountId, accountId),
        eq(usageCounters.feature, feature),
        between(usageCounters.period, from, to),
      ),
    )
  const used = new Map(rows.map((row) => [row.period, Number(row.used)]))
  return {
    feature,
    period_kind: kind === 'per_day' ? 'day' : 'month',
    from,
    to,
    limit: !context.subscribed ? 0 : context.lim === null ? null : Number(context.lim),
    data: periods.map((period) => ({ period, used: used.get(period) ?? 0 })),
  }
}
