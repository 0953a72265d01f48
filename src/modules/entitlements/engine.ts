// The entitlements engine: limits are enforced by one SQL statement per operation. The counter
// row for (account, feature, period) is upserted with `used + n <= limit` in the ON CONFLICT
// WHERE clause, which PostgreSQL evaluates against the latest committed row under its row lock,
// so concurrent requests (on any number of instances) can never push `used` past the limit.
// Membership and subscription access are checked in the same statement: one round trip.
import { type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, statementRow } from '../../core/db.ts'
import { AppError, limitExceeded, notFound } from '../../core/errors.ts'
import { instant, type Slots, type Statement, statement, type Value } from '../../core/statement.ts'
import {
  activeUserColumn,
  assertActiveMember,
  assertScope,
  type Credential,
  memberRoleColumn,
  type PrincipalKind,
  type PrincipalSql,
  type PrincipalValues,
  principalKinds,
  principalSql,
  principalValues,
} from '../accounts/membership.ts'
import { type Role, roleAtLeast } from '../accounts/roles.ts'
import { accounts } from '../accounts/tables.ts'
import type { KeyScope } from '../keys/scopes.ts'
import {
  type CatalogueEntry,
  type FeatureKind,
  featureNotMetered,
  unknownFeature,
} from '../plans/features.ts'
import { plans } from '../plans/tables.ts'
import { grantsAccessSql } from '../subscriptions/access.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { usageCounters } from './tables.ts'

// The statements' CTEs, named once: the SQL a caller hands in (`period`, `gate`, `insert`) names
// `accountCte`, `periodCte` and `counterCte` through these constants too.
/** The account: `timezone`. */
export const accountCte = sql.identifier('acct')
/** The counter's period key: `period`. */
export const periodCte = sql.identifier('per')
/** The counter after a granted consume: `used`; no row when refused. */
export const counterCte = sql.identifier('ctr')
/** The plan's limit of the feature under a subscription that grants access: `lim` (null = unlimited). */
const entitlementCte = sql.identifier('ent')
const gateCte = sql.identifier('gate')
const insertCte = sql.identifier('ins')
const catalogueCte = sql.identifier('cat')
const releaseCte = sql.identifier('rel')

/** A column's bare name (insert lists, SET targets, conflict targets, CTE columns). */
const name = (column: { name: string }) => sql.identifier(column.name)
export const periodColumn = name(usageCounters.period)
export const usedColumn = name(usageCounters.used)
const timezoneColumn = name(accounts.timezone)
const limitColumn = sql.identifier('lim')
const entryColumn = sql.identifier('entry')

const a = alias(accounts, 'a')
const s = alias(subscriptions, 's')
const p = alias(plans, 'p')
const c = alias(usageCounters, 'c')

/**
 * The values of every consume and release statement, beside any its caller adds: the account, the
 * principal (a user in a live session, or a live key; see `principalValues`), the feature.
 */
export interface UnitValues extends PrincipalValues {
  accountId: string
  feature: string
  quantity: number
  /** The instant of the request, ISO 8601. */
  now: string
}

/** What makes one consume statement different from another; the values come per call. */
export interface ConsumeShape<V extends UnitValues> {
  /** The least role the acting user needs in the account. */
  minRole: Role
  /** The scope an API key needs instead. */
  scope: KeyScope
  /** Whether the feature is resource-backed (its catalogue entry needs no lookup). */
  resource: boolean
  /** The counter's period, an expression that may use `accountCte` (see `periodAt`); `''` for count limits. */
  period: (slot: Slots<V>) => SQL
  /** An extra condition that must hold (e.g. the named staff member exists). */
  gate?: (slot: Slots<V>) => SQL
  /**
   * The data-modifying CTE that creates the resource. It must select from `counterCte` (and may
   * from `periodCte`) so it only runs when a unit was granted, and return the columns the caller
   * wants (with `::text` on dates).
   */
  insert?: (slot: Slots<V>) => SQL
}

export interface ConsumeOutcome<Row> {
  kind: PrincipalKind
  role: Role | null
  /** The acting user exists and is active, and the token's session is live (or the key is live). */
  active: boolean
  /** A key holds the statement's scope (always true for a user). */
  scopeOk: boolean
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

/** The limit of a feature in the plan aliased `p`: 0 when the plan lacks it, null when unlimited. */
export const limitOf = (feature: Value<string>) => sql`case
  when jsonb_exists(${p.limits}, ${feature}) then
    case when jsonb_typeof(${p.limits} -> ${feature}) = 'number' then floor((${p.limits} ->> ${feature})::numeric)::int end
  else 0 end`

/** CTE fragments shared by consume and release: the principal, the account's time zone, the plan limit. */
function contextCtes(principal: PrincipalSql, slot: Slots<UnitValues>): SQL {
  return sql`${principal.ctes},
    ${accountCte} as (select ${a.timezone} from ${accounts} ${a} where ${a.id} = ${slot.accountId}::uuid),
    ${entitlementCte} as (
      select ${limitOf(slot.feature)} as ${limitColumn}
      from ${subscriptions} ${s} join ${plans} ${p} on ${p.id} = ${s.planId}
      where ${s.accountId} = ${slot.accountId}::uuid and ${s.status} <> 'expired' and ${grantsAccessSql('s', slot.now)}
    )`
}

/**
 * Where a feature key stands in the catalogue, as a SQL expression: a declared resource-backed
 * feature needs no lookup; any other key is known when some plan (retired ones included, as
 * accounts may still hold them) names it as a limit or a flag. The plans table is small.
 */
export function catalogueSql(resource: boolean, feature: Value<string>): SQL {
  if (resource) return sql`'resource'`
  return sql`(select case
      when bool_or(jsonb_exists(${p.limits}, ${feature})) then 'limit'
      when bool_or(jsonb_exists(${p.features}, ${feature})) then 'flag'
    end from ${plans} ${p})`
}

/**
 * The consume statement's catalogue column. A granted unit proves that the plan names the key as
 * a limit, so only a refused consume of an undeclared key looks it up (the `else` branch is not
 * evaluated otherwise): the hot path stays one statement and does no extra work when it succeeds.
 */
function catalogueColumn(resource: boolean, feature: Value<string>): SQL {
  if (resource) return catalogueSql(resource, feature)
  return sql`case when exists (select 1 from ${counterCte}) then 'limit' else ${catalogueSql(resource, feature)} end`
}

/**
 * The one statement of `consumeUnits` for a shape, rendered once (at module load, by the module
 * that consumes); the benchmark runs the same text in pgbench, so its ceiling is exactly the SQL
 * the service runs.
 */
export function consumeStatement<V extends UnitValues>(shape: ConsumeShape<V>): PrincipalStatements<V> {
  return byPrincipal((kind) =>
    statement<V>((slot) => {
      const principal = principalSql(kind, slot, shape.scope)
      const { accountId, feature, quantity, now } = slot
      const insert = shape.insert?.(slot) ?? sql`select 1 as granted from ${counterCte}`
      const limit = sql`(select ${limitColumn} from ${entitlementCte})`
      return sql`with ${contextCtes(principal, slot)},
    ${gateCte} as (select 1 as ok where ${principal.hasRole(shape.minRole)} and (${shape.gate?.(slot) ?? sql`true`})),
    ${periodCte} as (select (${shape.period(slot)})::text as ${periodColumn} from ${accountCte}),
    ${counterCte} as (
      insert into ${usageCounters} as ${c} (${name(usageCounters.accountId)}, ${name(usageCounters.feature)}, ${periodColumn}, ${usedColumn}, ${name(usageCounters.updatedAt)})
      select ${accountId}::uuid, ${feature}::text, ${periodCte}.${periodColumn}, ${quantity}::int, ${instant(now)}
      from ${periodCte}, ${entitlementCte}, ${gateCte}
      where ${entitlementCte}.${limitColumn} is null or ${quantity}::int <= ${entitlementCte}.${limitColumn}
      on conflict (${name(usageCounters.accountId)}, ${name(usageCounters.feature)}, ${periodColumn}) do update
        set ${usedColumn} = ${c.used} + excluded.${usedColumn}, ${name(usageCounters.updatedAt)} = excluded.${name(usageCounters.updatedAt)}
        where ${limit} is null or ${c.used} + excluded.${usedColumn} <= ${limit}
      returning ${c.used}
    ),
    ${insertCte} as (${insert})
    select
      ${memberRoleColumn} as _role,
      ${activeUserColumn} as _active,
      ${principal.scopeOkColumn} as _scope_ok,
      exists (select 1 from ${entitlementCte}) as _has_access,
      exists (select 1 from ${gateCte}) as _gate_ok,
      ${limit} as _limit,
      coalesce(${counterNow(accountId, feature)}, 0) as _used_before,
      exists (select 1 from ${counterCte}) as _granted,
      ${catalogueColumn(shape.resource, feature)} as _catalogue,
      ${insertCte}.*
    from (select 1) as one left join ${insertCte} on true`
    }),
  )
}

/** A hot statement built once for each kind of principal. */
export type PrincipalStatements<V> = Readonly<Record<PrincipalKind, Statement<V>>>

/** Builds a statement for each kind of principal. */
export function byPrincipal<V>(build: (kind: PrincipalKind) => Statement<V>): PrincipalStatements<V> {
  const [user, key] = principalKinds.map(build)
  if (!user || !key) throw new Error('unreachable')
  return { user, key }
}

/** The counter's stored value for the period in `periodCte` (a scalar subquery; null when none). */
function counterNow(accountId: Value<string>, feature: Value<string>): SQL {
  return sql`(select ${c.used} from ${usageCounters} ${c}, ${periodCte}
        where ${c.accountId} = ${accountId}::uuid and ${c.feature} = ${feature}::text and ${c.period} = ${periodCte}.${periodColumn})`
}

/** The computed columns of the consume statement, beside the `insert` CTE's own. */
interface ConsumeColumns {
  _role: Role | null
  _active: boolean | null
  _scope_ok: boolean
  _has_access: boolean
  _gate_ok: boolean
  _limit: number | null
  _used_before: number
  _granted: boolean
  _catalogue: CatalogueEntry | undefined
}

/**
 * Consumes `quantity` units of a feature (and creates the resource, when the statement's shape
 * has an insert) in one statement. `row` is the insert's row when granted.
 */
export async function consumeUnits<Row, V extends UnitValues = UnitValues>(
  executor: Executor,
  consume: PrincipalStatements<V>,
  credential: Credential,
  values: Omit<V, keyof PrincipalValues>,
): Promise<ConsumeOutcome<Row>> {
  const row = await statementRow<ConsumeColumns & Record<string, unknown>, V>(
    executor,
    consume[credential.kind],
    { ...values, ...principalValues(credential) } as V,
  )
  if (!row) throw new Error('consume statement returned no row')
  const {
    _role,
    _active,
    _scope_ok,
    _has_access,
    _gate_ok,
    _limit,
    _used_before,
    _granted,
    _catalogue,
    ...rest
  } = row
  const granted = Boolean(_granted)
  return {
    kind: credential.kind,
    role: _role ?? null,
    active: Boolean(_active),
    scopeOk: Boolean(_scope_ok),
    hasAccess: Boolean(_has_access),
    gateOk: Boolean(_gate_ok),
    limit: _limit === null || _limit === undefined ? null : Number(_limit),
    usedBefore: Number(_used_before),
    granted,
    catalogue: _catalogue ?? null,
    row: granted ? (rest as Row) : undefined,
  }
}

/**
 * Turns a refused outcome into the error the client sees, in order: a dead session or key (401),
 * not a member or a key of another account (404), a key without the scope (403), role too low (403), an unknown feature (404 unknown_feature) or a flag (400 feature_not_metered), the
 * caller's own gate, no access (subscription_required), then limit_exceeded.
 */
export function assertGranted<Row>(
  outcome: ConsumeOutcome<Row>,
  spec: { feature: string; minRole: Role; scope: KeyScope },
  gateError: () => AppError = () => new AppError('forbidden'),
): void {
  if (outcome.granted) return
  assertActiveMember(outcome.active, outcome.role, outcome.kind)
  if (outcome.role === null) throw notFound('Account')
  assertScope(outcome.scopeOk, spec.scope)
  if (!roleAtLeast(outcome.role, spec.minRole)) {
    throw new AppError('forbidden', `This needs the ${spec.minRole} role in the account`)
  }
  assertMetered(outcome.catalogue, spec.feature)
  if (!outcome.gateOk) throw gateError()
  if (!outcome.hasAccess)
    throw new AppError('subscription_required', 'The account has no active subscription')
  throw limitExceeded(spec.feature, outcome.limit ?? 0, outcome.usedBefore)
}

/** The principal's standing in an account, as statements (see `memberStanding`); `scope` for keys. */
export function standingStatements(
  scope: KeyScope,
): PrincipalStatements<PrincipalValues & { accountId: string; now: string }> {
  return byPrincipal((kind) =>
    statement<PrincipalValues & { accountId: string; now: string }>((slot) => {
      const principal = principalSql(kind, slot, scope)
      return sql`with ${principal.ctes} select ${memberRoleColumn} as role, ${activeUserColumn} as active, ${principal.scopeOkColumn} as scope_ok`
    }),
  )
}

/**
 * The principal's standing in the account, for a refusal that must still answer 401 (dead
 * session or key), 404 (not a member) and 403 (a key without the scope, or with `minRole`, a user
 * below it) first, as every other account route does.
 */
export async function assertStanding(
  executor: Executor,
  standing: PrincipalStatements<PrincipalValues & { accountId: string; now: string }>,
  accountId: string,
  credential: Credential,
  scope: KeyScope,
  now: Date,
  minRole?: Role,
): Promise<void> {
  const row = await statementRow<
    { role: Role | null; active: boolean; scope_ok: boolean },
    PrincipalValues & { accountId: string; now: string }
  >(executor, standing[credential.kind], {
    accountId,
    now: now.toISOString(),
    ...principalValues(credential),
  })
  assertActiveMember(row?.active, row?.role, credential.kind)
  assertScope(row?.scope_ok, scope)
  if (minRole && row?.role && !roleAtLeast(row.role, minRole)) {
    throw new AppError('forbidden', `This needs the ${minRole} role in the account`)
  }
}

/**
 * The Idempotency-Key replay check of a hot path (see `ReplayCheck` in core/http.ts), its
 * statements rendered once: a replay answers the stored response only while the caller still
 * stands in the account as a fresh request would need (401, 404 and 403 otherwise). It costs one
 * small statement, on the replay path only.
 */
export function replayStanding(spec: { scope: KeyScope; minRole: Role }) {
  const standing = standingStatements(spec.scope)
  return (accountId: string, credential: Credential, now: Date) => (executor: Executor) =>
    assertStanding(executor, standing, accountId, credential, spec.scope, now, spec.minRole)
}

/** 404 for a key the catalogue does not know, 400 for one that is only a flag. */
export function assertMetered(catalogue: CatalogueEntry, feature: string): void {
  if (catalogue === null) throw unknownFeature(feature)
  if (catalogue === 'flag') throw featureNotMetered(feature)
}

/** A CTE body that gives back `quantity` units of a counter when `when` holds (floor 0). */
export function releaseUnitsSql(
  accountId: Value<string>,
  feature: Value<string>,
  period: SQL,
  quantity: Value<number>,
  now: Value<Date>,
  when: SQL,
): SQL {
  return sql`update ${usageCounters} ${c}
    set ${usedColumn} = greatest(${c.used} - ${quantity}::int, 0), ${name(usageCounters.updatedAt)} = ${instant(now)}
    where ${c.accountId} = ${accountId}::uuid and ${c.feature} = ${feature}::text and ${c.period} = (${period})::text and (${when})
    returning ${c.used}`
}

/** The account-local period key of a feature kind at an instant (SQL; needs `accountCte` in scope). */
export function periodAt(kind: FeatureKind, at: SQL): SQL {
  switch (kind) {
    case 'per_day':
      return sql`to_char((${at} at time zone ${accountCte}.${timezoneColumn})::date, 'YYYY-MM-DD')`
    case 'per_month':
      return sql`to_char((${at} at time zone ${accountCte}.${timezoneColumn})::date, 'YYYY-MM')`
    case 'count':
      return sql`''`
  }
}

export interface ReleaseOutcome {
  kind: PrincipalKind
  role: Role | null
  active: boolean
  scopeOk: boolean
  /** Counter value after the release (0 when there was none). */
  used: number
  limit: number | null
  hasAccess: boolean
  period: string
  /** Where the feature stands in the catalogue; nothing is released unless it is `limit`. */
  catalogue: CatalogueEntry
}

/** What makes one release statement different from another (see `ConsumeShape`). */
export type ReleaseShape<V extends UnitValues> = Pick<ConsumeShape<V>, 'minRole' | 'scope' | 'period'>

/**
 * The statement of `releaseUnits` for a metered (not resource-backed) feature, rendered once: it
 * gives back units (never below zero), checking membership and the catalogue in the same
 * statement, so an unknown key, a flag or a resource-backed feature is left alone.
 */
export function releaseStatement<V extends UnitValues>(shape: ReleaseShape<V>): PrincipalStatements<V> {
  return byPrincipal((kind) =>
    statement<V>((slot) => {
      const principal = principalSql(kind, slot, shape.scope)
      const { accountId, feature, quantity, now } = slot
      const release = releaseUnitsSql(
        accountId,
        feature,
        sql`(select ${periodColumn} from ${periodCte})`,
        quantity,
        now,
        sql`${principal.hasRole(shape.minRole)} and (select ${entryColumn} from ${catalogueCte}) = 'limit'`,
      )
      return sql`with ${contextCtes(principal, slot)},
    ${periodCte} as (select (${shape.period(slot)})::text as ${periodColumn} from ${accountCte}),
    ${catalogueCte} as (select ${catalogueSql(false, feature)} as ${entryColumn}),
    ${releaseCte} as (${release})
    select
      ${memberRoleColumn} as role,
      ${activeUserColumn} as active,
      ${principal.scopeOkColumn} as scope_ok,
      (select ${periodColumn} from ${periodCte}) as period,
      coalesce((select ${usedColumn} from ${releaseCte}), ${counterNow(accountId, feature)}, 0) as used,
      (select ${limitColumn} from ${entitlementCte}) as lim,
      exists (select 1 from ${entitlementCte}) as has_access,
      (select ${entryColumn} from ${catalogueCte}) as catalogue`
    }),
  )
}

/** Gives back units of a metered feature with a statement made by `releaseStatement`. */
export async function releaseUnits<V extends UnitValues>(
  executor: Executor,
  release: PrincipalStatements<V>,
  credential: Credential,
  values: Omit<V, keyof PrincipalValues>,
): Promise<ReleaseOutcome> {
  const row = await statementRow<
    {
      role: Role | null
      active: boolean | null
      scope_ok: boolean | null
      used: number | null
      lim: number | null
      has_access: boolean
      period: string | null
      catalogue: CatalogueEntry | undefined
    },
    V
  >(executor, release[credential.kind], { ...values, ...principalValues(credential) } as V)
  return {
    kind: credential.kind,
    role: row?.role ?? null,
    active: Boolean(row?.active),
    scopeOk: Boolean(row?.scope_ok),
    used: Number(row?.used ?? 0),
    limit: row?.lim === null || row?.lim === undefined ? null : Number(row.lim),
    hasAccess: Boolean(row?.has_access),
    period: String(row?.period ?? ''),
    catalogue: row?.catalogue ?? null,
  }
}

/** How a limit decided: a unit admitted, or refused by the plan (no access, or no room). */
export type LimitOutcome = 'admitted' | 'refused'

/** Where the limit decisions are counted (the metrics); an in-memory increment, no I/O. */
export interface LimitDecisions {
  limitDecision(feature: string, outcome: LimitOutcome): void
}

/**
 * Counts the decision of a limited create: admitted when it succeeded, refused when the plan
 * refused it (`limit_exceeded`, `subscription_required`). Any other error (auth, role, validation)
 * is not a decision of the limit and is not counted. `feature` is a plan limit key: a refusal of an
 * unknown key is `unknown_feature` and never reaches here.
 */
export async function countDecision<T>(
  decisions: LimitDecisions,
  feature: string,
  create: Promise<T>,
): Promise<T> {
  try {
    const created = await create
    decisions.limitDecision(feature, 'admitted')
    return created
  } catch (error) {
    if (
      error instanceof AppError &&
      (error.code === 'limit_exceeded' || error.code === 'subscription_required')
    )
      decisions.limitDecision(feature, 'refused')
    throw error
  }
}
