import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { idempotencyScopeOf, requireCredential } from '../auth/guards.ts'
import { resourceFeatureKeys, resourceFeatures } from '../plans/features.ts'
import { checkFeature } from './check.ts'
import { countDecision, replayStanding } from './engine.ts'
import { readEntitlements, recordUsage } from './entitlements.ts'
import { maxHistoryPeriods, readUsageHistory } from './history.ts'
import {
  CheckBody,
  CheckResult,
  Entitlements,
  EntitlementsQuery,
  UsageBody,
  UsageHistory,
  UsageHistoryQuery,
  UsageResult,
} from './schemas.ts'

const security = [{ bearer: [] }]

/** A replay of an Idempotency-Key still needs what a fresh request needs (the statement checks it otherwise). */
const replayCheck = replayStanding({ minRole: 'member', scope: 'usage:write' })

// Built from the declared list, so the API reference names exactly the features the code refuses.
const resourceList = Object.entries(resourceFeatures)
  .map(([key, { changedBy }]) => `\`${key}\` (changed by ${changedBy})`)
  .join(', ')

const recordUsageDescription = [
  "Meters one of the product's own features on the plan's limits: a positive quantity consumes units atomically (403 limit_exceeded when it would pass the limit), a negative one releases them (never below zero). Send an Idempotency-Key to make retries safe.",
  `Only metered features: the resource-backed ones, ${resourceList}, are counted from the service's own rows and answer 400 feature_not_metered, as does a key that plans use only as a flag; nothing is changed.`,
  'A key that no plan names and the service does not declare answers 404 unknown_feature; a known feature the account’s plan does not include has limit 0.',
].join('\n\n')

const usageHistoryDescription = [
  "A limit counted per day or per month over a range of account-local periods, for charts: one entry per day (or month) from `from` to `to`, oldest first, with 0 where nothing was counted, beside the current plan's `limit`. Without `from` and `to`: the last 30 days up to today (12 months up to this month, for a monthly limit).",
  `At most ${maxHistoryPeriods} periods at once; \`from\` after \`to\` or a longer range is 400 validation_failed. A count limit (\`staff\`: a live count, with no periods; its figure is in the entitlements) and a plan flag answer 400 no_usage_history; a key no plan names and the service does not declare, 404 unknown_feature.`,
  'Members, site admins, and API keys with `entitlements:read`.',
].join('\n\n')

const checkDescription = [
  'Answers whether the account may use `quantity` units of a feature now, without consuming or changing anything: `allowed` is true when the account has a subscription that grants access and `used + quantity` fits the limit (or the limit is null: unlimited).',
  `Any feature works: metered ones and the resource-backed ${resourceFeatureKeys.map((key) => `\`${key}\``).join(', ')}. Per-day and per-month figures are for the current day or month in the account's time zone, like the entitlements. A feature the account's plan does not include has limit 0; a key that no plan names and the service does not declare answers 404 unknown_feature.`,
  "A flag answers `allowed` = the flag's value in the account's plan (false without access), with `limit`, `used` and `remaining` null. Without a subscription that grants access, `allowed` is false and `remaining` 0.",
  'A check reserves nothing: a later consume (usage, staff, bookings) decides again, atomically. Members and site admins.',
].join('\n\n')

export const entitlementRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    // Hot path: a token is verified in memory, and membership (or a key) is checked inside the one statement.
    app.get(
      '/v1/accounts/:accountId/entitlements',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Get entitlements',
          description: `Plan, status and, per feature, limit / used / remaining (per-period figures for today in the account time zone, or \`date\`). The resource-backed features (${resourceFeatureKeys.map((key) => `\`${key}\``).join(', ')}) are always listed, with limit 0 when the plan lacks them. Members, site admins, and API keys with \`entitlements:read\`.`,
          operationId: 'getEntitlements',
          security,
          params: AccountParams,
          querystring: EntitlementsQuery,
          response: { 200: Entitlements, ...problems },
        },
      },
      async (req) => {
        const credential = await requireCredential(deps, req)
        return readEntitlements(db, req.params.accountId, credential, clock.now(), req.query.date)
      },
    )

    app.post(
      '/v1/accounts/:accountId/usage',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Record usage',
          description: recordUsageDescription,
          operationId: 'recordUsage',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: UsageBody,
          response: { 200: UsageResult, ...problems },
        },
      },
      async (req, reply) => {
        const credential = await requireCredential(deps, req)
        const now = clock.now()
        return idempotent(
          db,
          req,
          reply,
          idempotencyScopeOf(credential),
          async (executor) => ({
            status: 200,
            body: await (req.body.quantity > 0
              ? countDecision(
                  deps.metrics,
                  req.body.feature,
                  recordUsage(executor, req.params.accountId, credential, req.body, now),
                )
              : recordUsage(executor, req.params.accountId, credential, req.body, now)),
          }),
          replayCheck(req.params.accountId, credential, now),
        )
      },
    )

    app.get(
      '/v1/accounts/:accountId/usage/history',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Get usage history',
          description: usageHistoryDescription,
          operationId: 'getUsageHistory',
          security,
          params: AccountParams,
          querystring: UsageHistoryQuery,
          response: {
            200: UsageHistory,
            ...problems,
            400: problem(
              '`validation_failed` (the input, or a range that is reversed or too long) or `no_usage_history` (a count limit or a flag).',
            ),
            404: problem(
              '`not_found` (no such account, or not one the caller may see) or `unknown_feature`.',
            ),
          },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'entitlements:read' }),
      },
      async (req) => readUsageHistory(db, req.params.accountId, req.query, clock.now()),
    )

    // Hot path: one statement, like the entitlements read; it writes nothing.
    app.post(
      '/v1/accounts/:accountId/check',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Check a feature',
          description: checkDescription,
          operationId: 'checkFeature',
          security,
          params: AccountParams,
          body: CheckBody,
          response: { 200: CheckResult, ...problems },
        },
      },
      async (req) => {
        const credential = await requireCredential(deps, req)
        const result = await checkFeature(db, req.params.accountId, credential, req.body, clock.now())
        // A limit's answer is a decision (a flag's has no count): counted like a create's.
        if (result.used !== null)
          deps.metrics.limitDecision(result.feature, result.allowed ? 'admitted' : 'refused')
        return result
      },
    )
  }
