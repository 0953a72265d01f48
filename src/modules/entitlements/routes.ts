import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { requireCaller } from '../auth/guards.ts'
import { readEntitlements, recordUsage } from './entitlements.ts'
import { Entitlements, EntitlementsQuery, UsageBody, UsageResult } from './schemas.ts'

const security = [{ bearer: [] }]

export const entitlementRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    // Hot path: the token is verified in memory and membership is checked inside the one statement.
    app.get(
      '/v1/accounts/:accountId/entitlements',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Get entitlements',
          description:
            'Plan, status and, per feature, limit / used / remaining (per-period figures for today in the account time zone, or `date`). Members and site admins.',
          operationId: 'getEntitlements',
          security,
          params: AccountParams,
          querystring: EntitlementsQuery,
          response: { 200: Entitlements, ...problems },
        },
      },
      async (req) => {
        const caller = await requireCaller(deps, req)
        return readEntitlements(db, req.params.accountId, caller, clock.now(), req.query.date)
      },
    )

    app.post(
      '/v1/accounts/:accountId/usage',
      {
        schema: {
          tags: ['entitlements'],
          summary: 'Record usage',
          description:
            "Meters one of the product's own features on the plan's limits: a positive quantity consumes units atomically (403 limit_exceeded when it would pass the limit), a negative one releases them. Send an Idempotency-Key to make retries safe.",
          operationId: 'recordUsage',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: UsageBody,
          response: { 200: UsageResult, ...problems },
        },
      },
      async (req, reply) => {
        const caller = await requireCaller(deps, req)
        return idempotent(db, req, reply, caller.userId, async (executor) => ({
          status: 200,
          body: await recordUsage(executor, req.params.accountId, caller, req.body, clock.now()),
        }))
      },
    )
  }
