import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { IdempotencyHeaders, idempotent, problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { principalOf, requireAdmin, tokenUserId } from '../auth/guards.ts'
import { createPlan, getPlan, listPlans, retirePlan, toPlan, updatePlan } from './plans.ts'
import { publishPlan } from './publish.ts'
import { CreatePlanBody, ListPlansQuery, Plan, PlanList, PlanParams, UpdatePlanBody } from './schemas.ts'

const security = [{ bearer: [] }]

export const planRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const adminOnly = requireAdmin(deps)

    app.get(
      '/v1/plans',
      {
        schema: {
          tags: ['plans'],
          summary: 'List plans',
          description: 'Public: active plans ordered by price. Admins may add `include_inactive=true`.',
          operationId: 'listPlans',
          querystring: ListPlansQuery,
          response: {
            200: PlanList,
            ...publicProblems,
            401: problems[401],
            403: problems[403],
          },
        },
      },
      async (req) => {
        if (req.query.include_inactive) {
          if (!(await tokenUserId(deps, req)))
            throw new AppError('unauthorized', 'A Bearer access token is required')
          await adminOnly(req)
        }
        return { data: (await listPlans(db, req.query.include_inactive)).map(toPlan) }
      },
    )

    app.get(
      '/v1/plans/:code',
      {
        schema: {
          tags: ['plans'],
          summary: 'Get a plan',
          description: 'Public; retired plans are returned with `is_active: false`.',
          operationId: 'getPlan',
          params: PlanParams,
          response: { 200: Plan, ...publicProblems },
        },
      },
      async (req) => toPlan(await getPlan(db, req.params.code)),
    )

    app.post(
      '/v1/plans',
      {
        schema: {
          tags: ['plans'],
          summary: 'Create a plan',
          description:
            'Site admins only. With Stripe, the Product and Price are created at Stripe in the same step (503 `provider_unavailable`, and no plan, when Stripe does not answer).',
          operationId: 'createPlan',
          security,
          headers: IdempotencyHeaders,
          body: CreatePlanBody,
          response: { 201: Plan, ...problems },
        },
        preHandler: adminOnly,
      },
      async (req, reply) =>
        idempotent(db, req, reply, principalOf(req).userId, async (executor) => ({
          status: 201,
          body: await executor.transaction(async (tx) => {
            const row = await createPlan(tx, req.body, clock.now())
            return toPlan(await publishPlan(tx, deps, row, null, principalOf(req).userId, 'plan.created'))
          }),
        })),
    )

    app.patch(
      '/v1/plans/:code',
      {
        schema: {
          tags: ['plans'],
          summary: 'Update a plan',
          description:
            'Site admins only. Limit changes apply to current subscribers at once (a lower limit leaves accounts over limit, nothing is deleted). With Stripe, a new price, currency or interval creates a new Stripe Price and archives the old one: existing subscribers keep paying the old price, new ones get the new.',
          operationId: 'updatePlan',
          security,
          params: PlanParams,
          body: UpdatePlanBody,
          response: { 200: Plan, ...problems },
        },
        preHandler: adminOnly,
      },
      async (req) =>
        db.transaction(async (tx) => {
          const previous = await getPlan(tx, req.params.code)
          const row = await updatePlan(tx, req.params.code, req.body, clock.now())
          return toPlan(await publishPlan(tx, deps, row, previous, principalOf(req).userId, 'plan.updated'))
        }),
    )

    app.delete(
      '/v1/plans/:code',
      {
        schema: {
          tags: ['plans'],
          summary: 'Retire a plan',
          description:
            'Site admins only. Soft delete: subscribers keep it, new subscriptions to it are refused.',
          operationId: 'retirePlan',
          security,
          params: PlanParams,
          response: { 204: z.null(), ...problems },
        },
        preHandler: adminOnly,
      },
      async (req, reply) => {
        await db.transaction(async (tx) => {
          const previous = await getPlan(tx, req.params.code)
          await retirePlan(tx, req.params.code, clock.now())
          const row = await getPlan(tx, req.params.code)
          await publishPlan(tx, deps, row, previous, principalOf(req).userId, 'plan.retired')
        })
        return reply.code(204).send(null)
      },
    )
  }
