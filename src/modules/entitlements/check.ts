// "Would this be allowed?" without consuming anything: one statement reads the caller's standing,
// the subscription's access, the plan's limit or flag and the counter of the current period (or of
// the day asked about), and the
// answer is computed from that row. It changes nothing, so a check and a consume that follows it
// may see different counters under concurrency: the consume (usage, staff, bookings) still decides.
import { type Placeholder, type SQL, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/pg-core'
import { type Executor, statementRow } from '../../core/db.ts'
import { notFound } from '../../core/errors.ts'
import { type Statement, statement } from '../../core/statement.ts'
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
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import {
  type CatalogueEntry,
  type FeatureKind,
  featureKind,
  featureKinds,
  isResourceFeature,
  unknownFeature,
} from '../plans/features.ts'
import { plans } from '../plans/tables.ts'
import { grantsAccessSql } from '../subscriptions/access.ts'
import { subscriptions } from '../subscriptions/tables.ts'
import { accountCte, catalogueSql, limitOf, periodAt, periodColumn, periodCte } from './engine.ts'
import type { CheckBody, CheckResult } from './schemas.ts'
import { usageCounters } from './tables.ts'

interface CheckValues extends PrincipalValues {
  accountId: string
  feature: string
  /** The instant of the request, ISO 8601: the access rule and the current period use it. */
  now: string
  /** The account-local day asked about (YYYY-MM-DD); null: today. */
  day: string | null
}

/** The one row of the check statement. */
interface CheckRow {
  role: Role | null
  /** The acting user exists and is active, and the token's session is live. */
  active: boolean | null
  isAdmin: boolean | null
  /** A key holds `entitlements:read` (always true for a user). */
  scopeOk: boolean
  found: boolean
  /** The account has a live (not expired) subscription, with or without access. */
  subscribed: boolean
  hasAccess: boolean | null
  /** The plan names the key in `limits` / in `features`. */
  namedLimit: boolean | null
  namedFlag: boolean | null
  /** The plan's limit: 0 when it lacks the key, null when unlimited (or without a subscription). */
  lim: number | null
  /** The plan's flag is `true`. */
  enabled: boolean | null
  used: number | null
  /** Where the key stands in the catalogue, looked up only when the plan names it neither way. */
  catalogue: CatalogueEntry | undefined
}

const adminCte = sql.identifier('adm')
const subscriptionCte = sql.identifier('sub')
const u = alias(users, 'u')
const a = alias(accounts, 'a')
const s = alias(subscriptions, 's')
const p = alias(plans, 'p')
const c = alias(usageCounters, 'c')
/** A name for a selected expression: the row property it fills. */
const as = (key: keyof CheckRow) => sql.identifier(key)
const sub = (key: keyof CheckRow) => sql`${subscriptionCte}.${as(key)}`

/** The period a given local day falls in, for the kind of feature (null for a count: no period). */
function periodOf(kind: FeatureKind, day: Placeholder): SQL {
  switch (kind) {
    case 'per_day':
      return sql`${day}::text`
    case 'per_month':
      return sql`left(${day}::text, 7)`
    case 'count':
      return sql`null::text`
  }
}

/**
 * The check statement for a feature kind (its period: none, the local day or the local month),
 * rendered once: the caller's standing (as on every hot path, plus the site-admin flag, since
 * admins may read any account as they read entitlements), the live subscription's access, the
 * plan's limit and flag for the key, the counter of the current account-local period, and the
 * catalogue entry when the plan names the key neither way.
 */
const checkStatement = (kind: FeatureKind, principalKind: PrincipalKind): Statement<CheckValues> =>
  statement<CheckValues>((slot) => {
    const { accountId, feature, now, day } = slot
    const principal = principalSql(principalKind, slot, 'entitlements:read')
    // A key is never a site admin; a site key reaches every account through its own CTE.
    const admin =
      principalKind === 'user'
        ? sql`select ${u.isAdmin} from ${users} ${u} where ${u.id} = ${slot.userId}::uuid`
        : sql`select false as ${sql.identifier(users.isAdmin.name)}`
    return sql`with ${principal.ctes},
      ${adminCte} as (${admin}),
      ${accountCte} as (select ${a.timezone} from ${accounts} ${a} where ${a.id} = ${accountId}::uuid),
      ${periodCte} as (select coalesce(${periodOf(kind, day)}, (${periodAt(kind, sql`${now}::timestamptz`)})::text) as ${periodColumn} from ${accountCte}),
      ${subscriptionCte} as (
        select ${grantsAccessSql('s', now)} as ${as('hasAccess')},
          jsonb_exists(${p.limits}, ${feature}) as ${as('namedLimit')},
          jsonb_exists(${p.features}, ${feature}) as ${as('namedFlag')},
          ${limitOf(feature)} as ${as('lim')},
          coalesce((${p.features} -> ${feature}::text) = 'true'::jsonb, false) as ${as('enabled')}
        from ${subscriptions} ${s} join ${plans} ${p} on ${p.id} = ${s.planId}
        where ${s.accountId} = ${accountId}::uuid and ${s.status} <> 'expired'
      )
    select
      ${memberRoleColumn} as ${as('role')},
      ${activeUserColumn} as ${as('active')},
      (select ${u.isAdmin} from ${adminCte} ${u}) as ${as('isAdmin')},
      ${principal.scopeOkColumn} as ${as('scopeOk')},
      exists (select 1 from ${accountCte}) as ${as('found')},
      exists (select 1 from ${subscriptionCte}) as ${as('subscribed')},
      ${sub('hasAccess')}, ${sub('namedLimit')}, ${sub('namedFlag')}, ${sub('lim')}, ${sub('enabled')},
      (select ${c.used} from ${usageCounters} ${c}, ${periodCte}
        where ${c.accountId} = ${accountId}::uuid and ${c.feature} = ${feature}::text and ${c.period} = ${periodCte}.${periodColumn}) as ${as('used')},
      case when coalesce(${sub('namedLimit')} or ${sub('namedFlag')}, false) then null
        else ${catalogueSql(false, feature)} end as ${as('catalogue')}
    from (select 1) as one left join ${subscriptionCte} on true`
  })

/** One statement per feature kind and kind of principal, rendered at module load. */
const checkStatements = Object.fromEntries(
  featureKinds.map((kind) => [
    kind,
    { user: checkStatement(kind, 'user'), key: checkStatement(kind, 'key') },
  ]),
) as Record<FeatureKind, Record<PrincipalKind, Statement<CheckValues>>>

/**
 * Whether the account may use `quantity` units of a feature now, without consuming anything, in one
 * statement. Any active member may ask, a site admin (as for entitlements), and an API key with
 * `entitlements:read` that reaches the account; a deactivated user, an ended session or a dead key
 * is 401, anyone else 404 (a key without the scope: 403); an unknown key is 404 unknown_feature. A limit is
 * allowed when the account has access and `used + quantity` fits it (null = unlimited); a flag is
 * allowed when the account has access and its plan turns it on (limit, used, remaining: null).
 */
export async function checkFeature(
  executor: Executor,
  accountId: string,
  credential: Credential,
  input: CheckBody,
  now: Date,
): Promise<CheckResult> {
  const { feature, quantity } = input
  const row = await statementRow<CheckRow, CheckValues>(
    executor,
    checkStatements[featureKind(feature)][credential.kind],
    { accountId, ...principalValues(credential), feature, now: now.toISOString(), day: input.date ?? null },
  )
  assertActiveMember(row?.active, true, credential.kind)
  if (!row?.found || (row.role === null && !row.isAdmin)) throw notFound('Account')
  assertScope(row.scopeOk, 'entitlements:read')
  const hasAccess = Boolean(row.hasAccess)
  // The account's plan decides what the key is for it (a limit first, as entitlements list it);
  // a key its plan does not name is what the catalogue says, not included (limit 0, flag off).
  const asLimit =
    isResourceFeature(feature) || Boolean(row.namedLimit) || (!row.namedFlag && row.catalogue === 'limit')
  if (!asLimit && !row.namedFlag && row.catalogue !== 'flag') throw unknownFeature(feature)
  if (!asLimit) {
    return { allowed: hasAccess && Boolean(row.enabled), feature, limit: null, used: null, remaining: null }
  }
  const limit = !row.subscribed ? 0 : row.lim === null ? null : Number(row.lim)
  const used = Number(row.used ?? 0)
  return {
    allowed: hasAccess && (limit === null || used + quantity <= limit),
    feature,
    limit,
    used,
    remaining: !hasAccess ? 0 : limit === null ? null : Math.max(0, limit - used),
  }
}
