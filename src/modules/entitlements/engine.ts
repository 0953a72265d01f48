// The entitlements engine: limits are enforced by one SQL statement per operation. The counter
// row for (account, feature, period) is upserted with `used + n <= limit` in the ON CONFLICT
// WHERE clause, which PostgreSQL evaluates against the latest committed row under its row lock,
// so concurrent requests (on any number of instances) can never push `used` past the limit.
// Membership and subscription access are checked in the same statement: one round trip.
import { type SQL, sql } from 'drizzle-orm'
import { type Executor, queryRow } from '../../core/db.ts'
import { AppError, limitExceeded, notFound } from '../../core/errors.ts'
import { activeUserColumn, assertActiveMember, memberCtes } from '../accounts/membership.ts'
import { type Role, roleAtLeast, rolesFrom } from '../accounts/roles.ts'
import type { Caller } from '../auth/sessions.ts'
import { grantsAccessSql } from '../subscriptions/access.ts'
import {
  type CatalogueEntry,
  featureKind,
  featureNotMetered,
  isResourceFeature,
  unknownFeature,
} from './features.ts'

export interface ConsumeSpec {
  accountId: string
  /** The acting user and token session; must be an active member with at least `minRole`, in a live session. */
  caller: Caller
  minRole: Role
  feature: string
  quantity: number
  /** The counter's period, an expression that may use `acct.timezone`; `''` for count limits. */
  period: SQL
  now: Date
  /** An extra condition that must hold (e.g. the named staff member exists). */
  gate?: SQL
  /**
   * The data-modifying CTE that creates the resource. It must select `from ctr, per` so it only
   * runs when a unit was granted, and return the columns the caller wants (with `::text` on dates).
   */
  insert?: SQL
}

export interface ConsumeOutcome<Row> {
  role: Role | null
  /** The acting user exists and is active, and the token's session is live. */
  active: boolean
  hasAccess: boolean
  gateOk: boolean
  /** null = unlimited */
  limit: number | null
  usedBefore: number
  granted: boolean
  /** Where the feature stands in the catalogue (null: unknown). */
  catalogue: CatalogueEntry
  row: Row | undefined
}

const limitOf = (feature: string) => sql`case
  when jsonb_exists(p.limits, ${feature}) then
    case when jsonb_typeof(p.limits -> ${feature}) = 'number' then floor((p.limits ->> ${feature})::numeric)::int end
  else 0 end`

/** CTE fragments shared by consume and read: the member's role, the account's time zone, the plan limit. */
function contextCtes(accountId: string, caller: Caller, feature: string, now: Date): SQL {
  return sql`${memberCtes(accountId, caller)},
    acct as (select a.timezone from accounts a where a.id = ${accountId}::uuid),
    ent as (
      select ${limitOf(feature)} as lim
      from subscriptions s join plans p on p.id = s.plan_id
      where s.account_id = ${accountId}::uuid and s.status <> 'expired' and ${grantsAccessSql('s', now)}
    )`
}

/**
 * Where a feature key stands in the catalogue, as a SQL expression: a declared resource-backed
 * feature needs no lookup; any other key is known when some plan (retired ones included, as
 * accounts may still hold them) names it as a limit or a flag. The plans table is small.
 */
function catalogueSql(feature: string): SQL {
  if (isResourceFeature(feature)) return sql`'resource'`
  return sql`(select case
      when bool_or(jsonb_exists(p.limits, ${feature})) then 'limit'
      when bool_or(jsonb_exists(p.features, ${feature})) then 'flag'
    end from plans p)`
}

/**
 * The consume statement's catalogue column. A granted unit proves that the plan names the key as
 * a limit, so only a refused consume of an undeclared key looks it up (the `else` branch is not
 * evaluated otherwise): the hot path stays one statement and does no extra work when it succeeds.
 */
function catalogueColumn(feature: string): SQL {
  if (isResourceFeature(feature)) return catalogueSql(feature)
  return sql`case when exists (select 1 from ctr) then 'limit' else ${catalogueSql(feature)} end`
}

const roleList = (minimum: Role) =>
  sql.join(
    rolesFrom(minimum).map((role) => sql`${role}`),
    sql`, `,
  )

/**
 * The one statement of `consumeUnits`, built without running it (the benchmark renders it for
 * pgbench, so the ceiling it measures is exactly the SQL the service runs).
 */
export function consumeUnitsSql(spec: ConsumeSpec): SQL {
  const { accountId, feature, quantity, now } = spec
  const insertCte = spec.insert ?? sql`select 1 as granted from ctr`
  return sql`with ${contextCtes(accountId, spec.caller, feature, now)},
    gate as (select 1 as ok from mem where mem.role in (${roleList(spec.minRole)}) and (${spec.gate ?? sql`true`})),
    per as (select (${spec.period})::text as period from acct),
    ctr as (
      insert into usage_counters as c (account_id, feature, period, used, updated_at)
      select ${accountId}::uuid, ${feature}, per.period, ${quantity}::int, ${now.toISOString()}::timestamptz
      from per, ent, gate
      where ent.lim is null or ${quantity}::int <= ent.lim
      on conflict (account_id, feature, period) do update
        set used = c.used + excluded.used, updated_at = excluded.updated_at
        where (select lim from ent) is null or c.used + excluded.used <= (select lim from ent)
      returning c.used
    ),
    ins as (${insertCte})
    select
      (select role from mem) as _role,
      ${activeUserColumn} as _active,
      exists (select 1 from ent) as _has_access,
      exists (select 1 from gate) as _gate_ok,
      (select lim from ent) as _limit,
      coalesce((select c.used from usage_counters c, per
        where c.account_id = ${accountId}::uuid and c.feature = ${feature} and c.period = per.period), 0) as _used_before,
      exists (select 1 from ctr) as _granted,
      ${catalogueColumn(feature)} as _catalogue,
      ins.*
    from (select 1) as one left join ins on true`
}

/** Consumes `quantity` units of a feature (and optionally creates a resource) in one statement. */
export async function consumeUnits<Row>(executor: Executor, spec: ConsumeSpec): Promise<ConsumeOutcome<Row>> {
  const row = await queryRow<Record<string, unknown>>(executor, consumeUnitsSql(spec))
  if (!row) throw new Error('consume statement returned no row')
  const { _role, _active, _has_access, _gate_ok, _limit, _used_before, _granted, _catalogue, ...rest } = row
  const granted = Boolean(_granted)
  return {
    role: (_role as Role | null) ?? null,
    active: Boolean(_active),
    hasAccess: Boolean(_has_access),
    gateOk: Boolean(_gate_ok),
    limit: _limit === null || _limit === undefined ? null : Number(_limit),
    usedBefore: Number(_used_before),
    granted,
    catalogue: (_catalogue as CatalogueEntry | undefined) ?? null,
    row: granted && spec.insert ? (rest as Row) : undefined,
  }
}

/**
 * Turns a refused outcome into the error the client sees, in order: not a member (404), role too
 * low (403), an unknown feature (404 unknown_feature) or a flag (400 feature_not_metered), the
 * caller's own gate, no access (subscription_required), then limit_exceeded.
 */
export function assertGranted<Row>(
  outcome: ConsumeOutcome<Row>,
  spec: Pick<ConsumeSpec, 'feature' | 'minRole'>,
  gateError: () => AppError = () => new AppError('forbidden'),
): void {
  if (outcome.granted) return
  assertActiveMember(outcome.active, outcome.role)
  if (outcome.role === null) throw notFound('Account')
  if (!roleAtLeast(outcome.role, spec.minRole)) {
    throw new AppError('forbidden', `This needs the ${spec.minRole} role in the account`)
  }
  assertMetered(outcome.catalogue, spec.feature)
  if (!outcome.gateOk) throw gateError()
  if (!outcome.hasAccess)
    throw new AppError('subscription_required', 'The account has no active subscription')
  throw limitExceeded(spec.feature, outcome.limit ?? 0, outcome.usedBefore)
}

/**
 * The acting user's standing in the account, for a refusal that must still answer 401 (inactive
 * user) and 404 (not a member) first, as every other account route does.
 */
export async function memberStanding(
  executor: Executor,
  accountId: string,
  caller: Caller,
): Promise<{ role: Role | null; active: boolean }> {
  const row = await queryRow<{ role: Role | null; active: boolean }>(
    executor,
    sql`with ${memberCtes(accountId, caller)} select (select role from mem) as role, ${activeUserColumn} as active`,
  )
  return { role: row?.role ?? null, active: Boolean(row?.active) }
}

/** 404 for a key the catalogue does not know, 400 for one that is only a flag. */
export function assertMetered(catalogue: CatalogueEntry, feature: string): void {
  if (catalogue === null) throw unknownFeature(feature)
  if (catalogue === 'flag') throw featureNotMetered(feature)
}

/** A CTE body that gives back `quantity` units of a counter when `when` holds (floor 0). */
export function releaseUnitsSql(
  accountId: string,
  feature: string,
  period: SQL,
  quantity: number,
  now: Date,
  when: SQL,
): SQL {
  return sql`update usage_counters c
    set used = greatest(c.used - ${quantity}::int, 0), updated_at = ${now.toISOString()}::timestamptz
    where c.account_id = ${accountId}::uuid and c.feature = ${feature} and c.period = (${period})::text and (${when})
    returning c.used`
}

/** The account-local period key of a feature at an instant (SQL; needs `acct` in scope). */
export function periodAt(feature: string, instant: SQL): SQL {
  switch (featureKind(feature)) {
    case 'per_day':
      return sql`to_char((${instant} at time zone acct.timezone)::date, 'YYYY-MM-DD')`
    case 'per_month':
      return sql`to_char((${instant} at time zone acct.timezone)::date, 'YYYY-MM')`
    case 'count':
      return sql`''`
  }
}

export interface ReleaseOutcome {
  role: Role | null
  active: boolean
  /** Counter value after the release (0 when there was none). */
  used: number
  limit: number | null
  hasAccess: boolean
  period: string
  /** Where the feature stands in the catalogue; nothing is released unless it is `limit`. */
  catalogue: CatalogueEntry
}

/**
 * Gives back units of a metered feature (never below zero), checking membership and the catalogue
 * in the same statement: an unknown key, a flag or a resource-backed feature is left alone.
 */
export async function releaseUnits(
  executor: Executor,
  spec: Omit<ConsumeSpec, 'gate' | 'insert'>,
): Promise<ReleaseOutcome> {
  const { accountId, feature, quantity, now } = spec
  const row = await queryRow<Record<string, unknown>>(
    executor,
    sql`with ${contextCtes(accountId, spec.caller, feature, now)},
    per as (select (${spec.period})::text as period from acct),
    cat as (select ${catalogueSql(feature)} as entry),
    rel as (${releaseUnitsSql(accountId, feature, sql`(select period from per)`, quantity, now, sql`exists (select 1 from mem where mem.role in (${roleList(spec.minRole)})) and (select entry from cat) = 'limit'`)})
    select
      (select role from mem) as role,
      ${activeUserColumn} as active,
      (select period from per) as period,
      coalesce((select used from rel), (select c.used from usage_counters c, per
        where c.account_id = ${accountId}::uuid and c.feature = ${feature} and c.period = per.period), 0) as used,
      (select lim from ent) as lim,
      exists (select 1 from ent) as has_access,
      (select entry from cat) as catalogue`,
  )
  return {
    role: (row?.role as Role | null) ?? null,
    active: Boolean(row?.active),
    used: Number(row?.used ?? 0),
    limit: row?.lim === null || row?.lim === undefined ? null : Number(row.lim),
    hasAccess: Boolean(row?.has_access),
    period: String(row?.period ?? ''),
    catalogue: (row?.catalogue as CatalogueEntry | undefined) ?? null,
  }
}
