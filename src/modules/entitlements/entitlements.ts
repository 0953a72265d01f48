import { sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, statementRow } from '../../core/db.ts'
import { notFound } from '../../core/errors.ts'
import { type Slots, statement } from '../../core/statement.ts'
import {
  activeUserColumn,
  assertActiveMember,
  assertScope,
  type Credential,
  memberRoleColumn,
  type PrincipalKind,
  type PrincipalValues,
  principalSql,
  principalValues,
} from '../accounts/membership.ts'
import type { Role } from '../accounts/roles.ts'
import { accountMembers, accounts } from '../accounts/tables.ts'
import { sessionEnded, sessionLiveSql } from '../auth/sessions.ts'
import { users } from '../auth/tables.ts'
import { keyRefused } from '../keys/credential.ts'
import {
  type FeatureKind,
  featureKind,
  featureKinds,
  featureNotMetered,
  isResourceFeature,
  resourceFeatureKeys,
} from '../plans/features.ts'
import { plans } from '../plans/tables.ts'
import { effectiveStatus, grantsAccessSql } from '../subscriptions/access.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import {
  assertGranted,
  assertMetered,
  assertStanding,
  byPrincipal,
  consumeStatement,
  consumeUnits,
  counterCte,
  type PrincipalStatements,
  periodAt,
  periodColumn,
  periodCte,
  releaseStatement,
  releaseUnits,
  standingStatements,
  type UnitValues,
  usedColumn,
} from './engine.ts'
import type { Entitlements, FeatureEntitlement, UsageBody, UsageResult } from './schemas.ts'
import { usageCounters } from './tables.ts'

type SubscriptionRow = typeof subscriptions.$inferSelect
type PlanRow = typeof plans.$inferSelect
type Nullable<T> = { [K in keyof T]: T[K] | null }

/** The one row of the entitlements statement; the subscription and plan columns are null without one. */
type EntitlementRow = Nullable<
  Pick<SubscriptionRow, 'status' | 'provider' | 'currentPeriodEnd' | 'endedAt' | 'graceUntil'> &
    Pick<PlanRow, 'limits' | 'features'>
> & {
  role: Role | null
  isAdmin: boolean | null
  scopeOk: boolean
  timezone: string
  date: string
  month: string
  dayResetsAt: Date
  monthResetsAt: Date
  hasAccess: boolean | null
  plan: string | null
  counters: Pick<typeof usageCounters.$inferSelect, 'feature' | 'period' | 'used'>[] | null
}

// The statement's CTEs and aliases.
const memberCte = sql.identifier('mem')
const userCte = sql.identifier('usr')
const accountCte = sql.identifier('acct')
const dayCte = sql.identifier('day')
const subscriptionCte = sql.identifier('sub')
const todayCountersCte = sql.identifier('ctr')
const m = alias(accountMembers, 'm')
const u = alias(users, 'u')
const a = alias(accounts, 'a')
const s = alias(subscriptions, 's')
const p = alias(plans, 'p')
const c = alias(usageCounters, 'c')
/** A name for a selected expression: the row property it fills. */
const as = (key: keyof EntitlementRow) => sql.identifier(key)
const timezoneColumn = sql.identifier(accounts.timezone.name)
const day = sql.identifier('d')
const tz = sql.identifier('tz')

interface EntitlementValues extends PrincipalValues {
  accountId: string
  /** The instant of the request, ISO 8601. */
  now: string
  /** The local day asked for; null: today in the account's time zone. */
  date: string | null
}

/** The entitlements statement, rendered once: membership, subscription, plan and the day's counters. */
/**
 * The principal part of the entitlements statement: its CTEs and three columns, `role` (null when
 * it does not reach the account), `isAdmin` (null when the credential is dead; a site admin reads
 * any account) and `scopeOk` (a key holds `entitlements:read`).
 */
function entitlementsPrincipal(kind: PrincipalKind, slot: Slots<EntitlementValues>) {
  if (kind === 'user') {
    return {
      ctes: sql`${memberCte} as (select ${m.role} from ${accountMembers} ${m} where ${m.accountId} = ${slot.accountId}::uuid and ${m.userId} = ${slot.userId}::uuid),
      ${userCte} as (
        select ${u.isAdmin} from ${users} ${u}
        where ${u.id} = ${slot.userId}::uuid and ${u.isActive} and ${sessionLiveSql(sql`${u.id}`, slot.sessionId)}
      )`,
      role: sql`(select ${m.role} from ${memberCte} ${m})`,
      isAdmin: sql`(select ${u.isAdmin} from ${userCte} ${u})`,
      scopeOk: sql`true`,
    }
  }
  const principal = principalSql(kind, slot, 'entitlements:read')
  return {
    ctes: principal.ctes,
    role: memberRoleColumn,
    isAdmin: sql`case when ${activeUserColumn} then false end`,
    scopeOk: principal.scopeOkColumn,
  }
}

const entitlementsStatements = byPrincipal((kind) =>
  statement<EntitlementValues>((slot) => {
    const principal = entitlementsPrincipal(kind, slot)
    return sql`with
      ${principal.ctes},
      ${accountCte} as (select ${a.timezone} from ${accounts} ${a} where ${a.id} = ${slot.accountId}::uuid),
      ${dayCte} as (
        select coalesce(${slot.date}::date, (${slot.now}::timestamptz at time zone ${accountCte}.${timezoneColumn})::date) as ${day},
               ${accountCte}.${timezoneColumn} as ${tz}
        from ${accountCte}
      ),
      ${subscriptionCte} as (
        select ${s.status} as ${as('status')}, ${s.provider} as ${as('provider')}, ${s.currentPeriodEnd} as ${as('currentPeriodEnd')},
          ${s.endedAt} as ${as('endedAt')}, ${s.graceUntil} as ${as('graceUntil')}, ${grantsAccessSql('s', slot.now)} as ${as('hasAccess')},
          ${p.code} as ${as('plan')}, ${p.limits} as ${as('limits')}, ${p.features} as ${as('features')}
        from ${subscriptions} ${s} join ${plans} ${p} on ${p.id} = ${s.planId}
        where ${s.accountId} = ${slot.accountId}::uuid and ${s.status} <> 'expired'
      ),
      ${todayCountersCte} as (
        select ${c.feature}, ${c.period}, ${c.used} from ${usageCounters} ${c}
        where ${c.accountId} = ${slot.accountId}::uuid
          and ${c.period} in ('', (select to_char(${day}, 'YYYY-MM-DD') from ${dayCte}), (select to_char(${day}, 'YYYY-MM') from ${dayCte}))
      )
    select
      ${principal.role} as ${as('role')},
      ${principal.isAdmin} as ${as('isAdmin')},
      ${principal.scopeOk} as ${as('scopeOk')},
      ${dayCte}.${tz} as ${as('timezone')},
      to_char(${dayCte}.${day}, 'YYYY-MM-DD') as ${as('date')},
      to_char(${dayCte}.${day}, 'YYYY-MM') as ${as('month')},
      ((${dayCte}.${day} + 1)::timestamp at time zone ${dayCte}.${tz}) as ${as('dayResetsAt')},
      ((date_trunc('month', ${dayCte}.${day}) + interval '1 month')::timestamp at time zone ${dayCte}.${tz}) as ${as('monthResetsAt')},
      ${subscriptionCte}.*,
      (select json_agg(${todayCountersCte}) from ${todayCountersCte}) as ${as('counters')}
    from ${dayCte} left join ${subscriptionCte} on true`
  }),
)

/**
 * An account's entitlements in one statement: membership, subscription, plan and today's counters.
 * Reads answer 200 with the decision; only commands are refused with limit_exceeded.
 */
export async function readEntitlements(
  executor: Executor,
  accountId: string,
  credential: Credential,
  now: Date,
  date: string | undefined,
): Promise<Entitlements> {
  const row = await statementRow<EntitlementRow, EntitlementValues>(
    executor,
    entitlementsStatements[credential.kind],
    { accountId, ...principalValues(credential), now: now.toISOString(), date: date ?? null },
  )
  // A dead key reaches nothing, so it is told so first; a user who is not a member gets 404 first.
  if (credential.kind === 'key' && row?.isAdmin === null) throw keyRefused()
  if (!row || (row.role === null && !row.isAdmin)) throw notFound('Account')
  if (row.isAdmin === null) throw sessionEnded()
  assertScope(row.scopeOk, 'entitlements:read')
  const hasAccess = Boolean(row.hasAccess)
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
        resets_at: new Date(row.dayResetsAt).toISOString(),
        ...figures,
      }
    } else if (kind === 'per_month') {
      features[feature] = {
        kind,
        month: row.month,
        resets_at: new Date(row.monthResetsAt).toISOString(),
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
      row.status === null || row.currentPeriodEnd === null
        ? null
        : effectiveStatus(
            {
              status: row.status,
              currentPeriodEnd: new Date(row.currentPeriodEnd),
              endedAt: row.endedAt === null ? null : new Date(row.endedAt),
              graceUntil: row.graceUntil === null ? null : new Date(row.graceUntil),
              provider: row.provider ?? 'manual',
            },
            now,
          ),
    has_access: hasAccess,
    timezone: row.timezone,
    features,
  }
}

/** The values of a usage record, beside the unit's. */
interface UsageValues extends UnitValues {
  /** The period the record names (the local day, or its month); null: now in the account's time zone. */
  period: string | null
}

/** The period a usage record counts on: the one it names, or now in the account's time zone. */
const usagePeriod = (kind: FeatureKind) => (slot: Slots<UsageValues>) =>
  kind === 'count'
    ? sql`''`
    : sql`coalesce(${slot.period}::text, ${periodAt(kind, sql`${slot.now}::timestamptz`)})`

/** The usage statements, one consume and one release per feature kind, rendered once. */
const usageStatements = Object.fromEntries(
  featureKinds.map((kind) => [
    kind,
    {
      consume: consumeStatement<UsageValues>({
        minRole: 'member',
        scope: 'usage:write',
        resource: false,
        period: usagePeriod(kind),
        insert: () =>
          sql`select ${periodCte}.${periodColumn}, ${counterCte}.${usedColumn} from ${counterCte}, ${periodCte}`,
      }),
      release: releaseStatement<UsageValues>({
        minRole: 'member',
        scope: 'usage:write',
        period: usagePeriod(kind),
      }),
    },
  ]),
) as Record<
  FeatureKind,
  { consume: PrincipalStatements<UsageValues>; release: PrincipalStatements<UsageValues> }
>

/** The standing of a principal refused a resource-backed feature. */
const usageStanding = standingStatements('usage:write')

/**
 * Meters a feature of the integrating product on the same engine: consume (quantity > 0) or
 * release. Resource-backed features are refused (their units follow their rows); an unknown key
 * is 404 and a flag is refused, from the answer of the one statement that consumes or releases.
 */
export async function recordUsage(
  executor: Executor,
  accountId: string,
  credential: Credential,
  input: UsageBody,
  now: Date,
): Promise<UsageResult> {
  if (isResourceFeature(input.feature)) {
    // Refused whatever the quantity, and without touching a counter; the caller's standing is
    // still checked first so a deactivated user gets 401 and a non-member 404, as elsewhere.
    await assertStanding(executor, usageStanding, accountId, credential, 'usage:write', now)
    throw featureNotMetered(input.feature)
  }
  const kind = featureKind(input.feature)
  const statements = usageStatements[kind]
  const values: Omit<UsageValues, keyof PrincipalValues> = {
    accountId,
    feature: input.feature,
    quantity: Math.abs(input.quantity),
    now: now.toISOString(),
    period:
      input.date === undefined || kind === 'count'
        ? null
        : kind === 'per_day'
          ? input.date
          : input.date.slice(0, 7),
  }
  if (input.quantity < 0) {
    const released = await releaseUnits(executor, statements.release, credential, values)
    assertActiveMember(released.active, released.role, released.kind)
    assertScope(released.scopeOk, 'usage:write')
    assertMetered(released.catalogue, input.feature)
    return result(input.feature, kind, released.period, released.limit, released.used, released.hasAccess)
  }
  const outcome = await consumeUnits<{ period: string; used: number }, UsageValues>(
    executor,
    statements.consume,
    credential,
    values,
  )
  assertGranted(outcome, { feature: input.feature, minRole: 'member', scope: 'usage:write' })
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
