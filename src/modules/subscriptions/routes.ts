import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/access.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { principalOf } from '../auth/guards.ts'
import { cancel, changePlan, getCurrentSubscription, resume, subscribe } from './lifecycle.ts'
import { CancelBody, ChangePlanBody, SubscribeBody, Subscription } from './schemas.ts'

const security = [{ bearer: [] }]
const tags = ['subscription']

export const subscriptionRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const manage = requireMember(deps, 'admin')
    const actorOf = (req: { params: { accountId: string } } & Parameters<typeof principalOf>[0]) => ({
      accountId: req.params.accountId,
      userId: principalOf(req).userId,
      now: clock.now(),
    })

    app.get(
      '/v1/accounts/:accountId/subscription',
      {
        schema: {
          tags,
          summary: 'Get the subscription',
          description: "The account's current (latest) subscription, or 404 when it never had one.",
          operationId: 'getSubscription',
          security,
          params: AccountParams,
          response: { 200: Subscription, ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true }),
      },
      async (req) => getCurrentSubscription(db, req.params.accountId, clock.now()),
    )

    app.post(
      '/v1/accounts/:accountId/subscription',
      {
        schema: {
          tags,
          summary: 'Subscribe',
          description:
            'Starts a subscription to a plan. With the manual provider it is active at once and an invoice is recorded. 409 when the account already has a live subscription.',
          operationId: 'subscribe',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: SubscribeBody,
          response: { 201: Subscription, ...problems },
        },
        preHandler: manage,
      },
      async (req, reply) =>
        idempotent(db, req, reply, principalOf(req).userId, async (executor) => ({
          status: 201,
          body: await executor.transaction((tx) => subscribe(tx, actorOf(req), req.body.plan)),
        })),
    )

    app.patch(
      '/v1/accounts/:accountId/subscription',
      {
        schema: {
          tags,
          summary: 'Change plan',
          description:
            'Now (upgrades invoiced pro rata; a downgrade deletes nothing and may leave the account over limit) or at period end.',
          operationId: 'changePlan',
          security,
          params: AccountParams,
          body: ChangePlanBody,
          response: { 200: Subscription, ...problems },
        },
        preHandler: manage,
      },
      async (req) => db.transaction((tx) => changePlan(tx, actorOf(req), req.body)),
    )

    app.post(
      '/v1/accounts/:accountId/subscription/cancel',
      {
        schema: {
          tags,
          summary: 'Cancel',
          description: 'At period end by default (access until then, resumable), or now.',
          operationId: 'cancelSubscription',
          security,
          params: AccountParams,
          body: CancelBody,
          response: { 200: Subscription, ...problems },
        },
        preHandler: manage,
      },
      async (req) => db.transaction((tx) => cancel(tx, actorOf(req), req.body.at_period_end)),
    )

    app.post(
      '/v1/accounts/:accountId/subscription/resume',
      {
        schema: {
          tags,
          summary: 'Resume',
          description: 'Undoes a cancel-at-period-end before the period ends.',
          operationId: 'resumeSubscription',
          security,
          params: AccountParams,
          response: { 200: Subscription, ...problems },
        },
        preHandler: manage,
      },
      async (req) => db.transaction((tx) => resume(tx, actorOf(req))),
    )
  }
