import { type SQL, sql } from 'drizzle-orm'
import { type Executor, queryRow } from '../../core/db.ts'
import { notFound } from '../../core/errors.ts'
import { assertActiveMember } from '../accounts/membership.ts'
import type { Role } from '../accounts/roles.ts'
import { type Caller, sessionEnded, sessionLiveSql } from '../auth/sessions.ts'
import { effectiveStatus, grantsAccessSql } from '../subscriptions/access.ts'
import type { SubscriptionStatus } from '../subscriptions/tables.ts'
import {
  assertGranted,
  assertMetered,
  consumeUnits,
  memberStanding,
  periodAt,
  releaseUnits,
} from './engine.ts'
import { featureKind, featureNotMetered, isResourceFeature, resourceFeatureKeys } from './features.ts'
import type { Entitlements, FeatureEntitlement, UsageBody, UsageResult } from './schemas.ts'

interface EntitlementRow {
  role: Role | null
  is_admin: boolean | null
  timezone: string
  date: string
  month: string
  day_resets_at: Date
  month_resets_at: Date
  status: SubscriptionStatus | null
  current_period_end: Date | null
  ended_at: Date | null
  grace_until: Date | null
  provider: string | null
  has_access: boolean | null
  plan: string | null
  limits: Record<string, number | null> | null
  features: Record<string, boolean> | null
  counters: { feature: string; period: string; used: number }[] | null
}

/**
 * An account's entitlements in one statement: membership, subscription, plan and today's counters.
 * Reads answer 200 with the decision; only commands are refused with limit_exceeded.
 */
export async function readEntitlements(
  executor: Executor,
  accountId: string,
  caller: Caller,
  now: Date,
  date: string | undefined,
): Promise<Entitlements> {
  const row = await queryRow<EntitlementRow>(
    executor,
    sql`with
      mem as (select m.role from account_members m where m.account_id = ${accountId}::uuid and m.user_id = ${caller.userId}::uuid),
      usr as (
        select u.is_admin from users u
        where u.id = ${caller.userId}::uuid and u.is_active and ${sessionLiveSql(sql`u.id`, caller.sessionId)}
      ),
      acct as (select a.timezone from accounts a where a.id = ${accountId}::uuid),
      day as (
        select coalesce(${date ?? null}::date, (${now.toISOString()}::timestamptz at time zone acct.timezone)::date) as d,
               acct.timezone as tz
        from acct
      ),
      sub as (
        select s.status, s.provider, s.current_period_end, s.ended_at, s.grace_until, ${grantsAccessSql('s', now)} as has_access, p.code as plan, p.limits, p.features
        from subscriptions s join plans p on p.id = s.plan_id
        where s.account_id = ${accountId}::uuid and s.status <> 'expired'
      ),
      ctr as (
        select c.feature, c.period, c.used from usage_counters c
        where c.account_id = ${accountId}::uuid
          and c.period in ('', (select to_char(d, 'YYYY-MM-DD') from day), (select to_char(d, 'YYYY-MM') from day))
      )
    select
      (select role from mem) as role,
      (select is_admin from usr) as is_admin,
      day.tz as timezone,
      to_char(day.d, 'YYYY-MM-DD') as date,
      to_char(day.d, 'YYYY-MM') as month,
      ((day.d + 1)::timestamp at time zone day.tz) as day_resets_at,
      ((date_trunc('month', day.d) + interval '1 month')::timestamp at time zone day.tz) as month_resets_at,
      sub.status, sub.provider, sub.current_period_end, sub.ended_at, sub.grace_until, sub.has_access, sub.plan, sub.limits, sub.features,
      (select json_agg(ctr) from ctr) as counters
    from day left join sub on true`,
  )
  if (!row || (row.role === null && !row.is_admin)) throw notFound('Account')
  if (row.is_admin === null) throw sessionEnded()
  const hasAccess = Boolean(row.has_access)
  const used = new Map(
    (row.counters ?? []).map((counter) => [`${counter.feature}/${counter.period}`, Number(counter.used)]),
  )
  // The resource-backed features are always shown; one the plan lacks is not included (limit 0).
  const limits: Record<string, number | null> = { ...row.limits }
  for (const key of resourceFeatureKeys) if (!Object.hasOwn(limits, key)) limits[key] = 0
  const features: Record<string, FeatureEntitlement> = {}
  for (const [feature, limit] of Object.entries(limits)) {
    const kind = featureKind(feature)
    const period = kind === 'per_day' ? row.date : kind === 'per_month' ? row.month : ''
    const usedNow = used.get(`${feature}/${period}`) ?? 0
    const figures = {
      limit,
      used: usedNow,
      remaining: !hasAccess ? 0 : limit === null ? null : Math.max(0, limit - usedNow),
      over_limit: limit !== null && usedNow > limit,
    }
    if (kind === 'per_day') {
      features[feature] = {
        kind,
        date: row.date,
        resets_at: new Date(row.day_resets_at).toISOString(),
        ...figures,
      }
    } else if (kind === 'per_month') {
      features[feature] = {
        kind,
        month: row.month,
        resets_at: new Date(row.month_resets_at).toISOString(),
        ...figures,
      }
    } else {
      features[feature] = { kind, ...figures }
    }
  }
  for (const [feature, enabled] of Object.entries(row.features ?? {})) {
    features[feature] ??= { kind: 'boolean', enabled: hasAccess && enabled }
  }
  return {
    account_id: accountId,
    plan: row.plan,
    status:
      row.status === null || row.current_period_end === null
        ? null
        : effectiveStatus(
            {
              status: row.status,
              currentPeriodEnd: new Date(row.current_period_end),
              endedAt: row.ended_at === null ? null : new Date(row.ended_at),
              graceUntil: row.grace_until === null ? null : new Date(row.grace_until),
              provider: row.provider ?? 'manual',
            },
            now,
          ),
    has_access: hasAccess,
    timezone: row.timezone,
    features,
  }
}

/** The period a usage record counts on: the given local day, or now in the account's time zone. */
function usagePeriod(feature: string, date: string | undefined, now: Date): SQL {
  const kind = featureKind(feature)
  if (date !== undefined && kind === 'per_day') return sql`${date}`
  if (date !== undefined && kind === 'per_month') return sql`${date.slice(0, 7)}`
  return periodAt(feature, sql`${now.toISOString()}::timestamptz`)
}

/**
 * Meters a feature of the integrating product on the same engine: consume (quantity > 0) or
 * release. Resource-backed features are refused (their units follow their rows); an unknown key
 * is 404 and a flag is refused, from the answer of the one statement that consumes or releases.
 */
export async function recordUsage(
  executor: Executor,
  accountId: string,
  caller: Caller,
  input: UsageBody,
  now: Date,
): Promise<UsageResult> {
  if (isResourceFeature(input.feature)) {
    // Refused whatever the quantity, and without touching a counter; the caller's standing is
    // still checked first so a deactivated user gets 401 and a non-member 404, as elsewhere.
    const standing = await memberStanding(executor, accountId, caller)
    assertActiveMember(standing.active, standing.role)
    throw featureNotMetered(input.feature)
  }
  const spec = {
    accountId,
    caller,
    minRole: 'member',
    feature: input.feature,
    quantity: Math.abs(input.quantity),
    period: usagePeriod(input.feature, input.date, now),
    now,
  } as const
  const kind = featureKind(input.feature)
  if (input.quantity < 0) {
    const released = await releaseUnits(executor, spec)
    assertActiveMember(released.active, released.role)
    assertMetered(released.catalogue, input.feature)
    return result(input.feature, kind, released.period, released.limit, released.used, released.hasAccess)
  }
  const outcome = await consumeUnits<{ period: string; used: number }>(executor, {
    ...spec,
    insert: sql`select per.period, ctr.used from ctr, per`,
  })
  assertGranted(outcome, spec)
  const row = outcome.row
  if (!row) throw new Error('granted usage returned no row')
  return result(input.feature, kind, row.period, outcome.limit, Number(row.used), true)
}

function result(
  feature: string,
  kind: UsageResult['kind'],
  period: string,
  limit: number | null,
  used: number,
  hasAccess: boolean,
): UsageResult {
  return {
    feature,
    kind,
    period,
    limit,
    used,
    remaining: !hasAccess ? 0 : limit === null ? null : Math.max(0, limit - used),
  }
}
