import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdempotencyHeaders, idempotent, problems, publicProblems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { actorOf, idempotencyScopeOf, principalOf, requireAdmin } from '../auth/guards.ts'
import { createPlan, getPlan, listPlans, retirePlan, toPlan, updatePlan } from './plans.ts'
import { publishPlan, syncPlanAtProvider } from './publish.ts'
import { CreatePlanBody, ListPlansQuery, Plan, PlanList, PlanParams, UpdatePlanBody } from './schemas.ts'

const security = [{ bearer: [] }]

export const planRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const adminOnly = requireAdmin(deps, { scope: 'plans:write' })

    app.get(
      '/v1/plans',
      {
        schema: {
          tags: ['plans'],
          summary: 'List plans',
          description:
            'Public: active plans ordered by price. Site admins and site API keys with `plans:write` may add `include_inactive=true`.',
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
        // Retired plans are for whoever may write plans: a site admin, or a site key with
        // plans:write (`plangate plans pull` reads them with the key it pushes with).
        if (req.query.include_inactive) await adminOnly(req)
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
            'Site admins only. With Stripe, the Product and Price are created at Stripe right after the plan is saved; when Stripe does not answer, the plan is saved all the same and its Price is made at its first Checkout.',
          operationId: 'createPlan',
          security,
          headers: IdempotencyHeaders,
          body: CreatePlanBody,
          response: { 201: Plan, ...problems },
        },
        preHandler: adminOnly,
      },
      async (req, reply) =>
        idempotent(db, req, reply, idempotencyScopeOf(principalOf(req)), async (executor) => {
          const row = await executor.transaction(async (tx) => {
            const created = await createPlan(tx, req.body, clock.now())
            return publishPlan(tx, deps, created, null, actorOf(principalOf(req)), 'plan.created')
          })
          return { status: 201, body: toPlan(await syncPlanAtProvider(db, deps, row, null)) }
        }),
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
      async (req) => {
        const { row, previous } = await db.transaction(async (tx) => {
          const before = await getPlan(tx, req.params.code)
          const updated = await updatePlan(tx, req.params.code, req.body, clock.now())
          return {
            row: await publishPlan(tx, deps, updated, before, actorOf(principalOf(req)), 'plan.updated'),
            previous: before,
          }
        })
        return toPlan(await syncPlanAtProvider(db, deps, row, previous))
      },
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
        const { row, previous } = await db.transaction(async (tx) => {
          const before = await getPlan(tx, req.params.code)
          await retirePlan(tx, req.params.code, clock.now())
          const retired = await getPlan(tx, req.params.code)
          await publishPlan(tx, deps, retired, before, actorOf(principalOf(req)), 'plan.retired')
          return { row: retired, previous: before }
        })
        await syncPlanAtProvider(db, deps, row, previous)
        return reply.code(204).send(null)
      },
    )
  }
