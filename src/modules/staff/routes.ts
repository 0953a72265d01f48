import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdempotencyHeaders, idempotent, PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { idempotencyScopeOf, requireCredential } from '../auth/guards.ts'
import { countDecision, replayStanding } from '../entitlements/engine.ts'
import { CreateStaffBody, Staff, StaffParams } from './schemas.ts'
import { createStaff, deleteStaff, listStaff } from './staff.ts'

const security = [{ bearer: [] }]
const tags = ['staff']

/** A replay of an Idempotency-Key still needs what a fresh request needs (the statement checks it otherwise). */
const replayCheck = replayStanding({ minRole: 'admin', scope: 'resources:write' })

export const staffRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    app.post(
      '/v1/accounts/:accountId/staff',
      {
        schema: {
          tags,
          summary: 'Add a staff member',
          description:
            'Owners and admins. Needs a subscription with access (403 subscription_required) and room under the `staff` limit (403 limit_exceeded).',
          operationId: 'createStaff',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: CreateStaffBody,
          response: { 201: Staff, ...problems },
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
            status: 201,
            body: await countDecision(
              deps.metrics,
              'staff',
              createStaff(executor, req.params.accountId, credential, req.body, now),
            ),
          }),
          replayCheck(req.params.accountId, credential, now),
        )
      },
    )

    app.get(
      '/v1/accounts/:accountId/staff',
      {
        schema: {
          tags,
          summary: 'List staff',
          operationId: 'listStaff',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(Staff), ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listStaff(db, req.params.accountId, req.query),
    )

    app.delete(
      '/v1/accounts/:accountId/staff/:staffId',
      {
        schema: {
          tags,
          summary: 'Delete a staff member',
          description: 'Owners and admins; frees a unit of the `staff` limit.',
          operationId: 'deleteStaff',
          security,
          params: StaffParams,
          response: { 204: z.null(), ...problems },
        },
      },
      async (req, reply) => {
        const credential = await requireCredential(deps, req)
        await deleteStaff(db, req.params.accountId, credential, req.params.staffId, clock.now())
        return reply.code(204).send(null)
      },
    )
  }
