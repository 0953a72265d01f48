import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdempotencyHeaders, idempotent, page, problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { audit, userActor } from '../audit/audit.ts'
import { requireAdmin, userOf } from '../auth/guards.ts'
import { webhookUrlPolicy } from './address-policy.ts'
import {
  createEndpoint,
  deleteEndpoint,
  listDeliveries,
  listEndpoints,
  retryDelivery,
  toEndpoint,
} from './endpoints.ts'
import {
  CreatedWebhookEndpoint,
  CreateEndpointBody,
  DeliveryParams,
  EndpointParams,
  ListDeliveriesQuery,
  ListEndpointsQuery,
  WebhookDelivery,
  WebhookEndpoint,
} from './schemas.ts'

const security = [{ bearer: [] }]
const adminProblems = { 400: problems[400], 401: problems[401], 403: problems[403], 429: problems[429] }

export const webhookRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const adminOnly = requireAdmin(deps)
    const urlPolicy = webhookUrlPolicy(deps.config)

    app.post(
      '/v1/webhook-endpoints',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Register a webhook endpoint',
          description:
            'Site admins only. plangate POSTs signed events of the chosen types to the URL. The response carries the signing `secret`, which is never shown again (a retry with the same Idempotency-Key replays this response). A URL on a loopback, private, link-local or other internal address, or `localhost`, is refused with 400 `url_not_allowed` (and so is plain http in production); a host name is resolved and checked again at every delivery.',
          operationId: 'createWebhookEndpoint',
          security,
          headers: IdempotencyHeaders,
          body: CreateEndpointBody,
          response: {
            201: CreatedWebhookEndpoint,
            ...adminProblems,
            400: problem('validation_failed, or url_not_allowed: an internal address or localhost'),
            409: problems[409],
          },
        },
        preHandler: adminOnly,
      },
      async (req, reply) =>
        idempotent(db, req, reply, userOf(req).userId, (executor) =>
          executor.transaction(async (tx) => {
            const adminId = userOf(req).userId
            const row = await createEndpoint(tx, req.body, adminId, clock.now(), urlPolicy)
            await audit(tx, {
              actor: userActor(adminId),
              action: 'webhook_endpoint.created',
              subjectType: 'webhook_endpoint',
              subjectId: row.id,
              data: { url: row.url, events: row.events },
              at: clock.now(),
            })
            return { status: 201, body: { ...toEndpoint(row), secret: row.secret } }
          }),
        ),
    )

    app.get(
      '/v1/webhook-endpoints',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'List webhook endpoints',
          description: 'Site admins only. Newest first, without their secrets.',
          operationId: 'listWebhookEndpoints',
          security,
          querystring: ListEndpointsQuery,
          response: { 200: page(WebhookEndpoint), ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => listEndpoints(db, req.query),
    )

    app.delete(
      '/v1/webhook-endpoints/:id',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Delete a webhook endpoint',
          description:
            'Site admins only. Soft delete: nothing more is sent to it, deliveries still pending end `failed`, and its delivery log stays readable.',
          operationId: 'deleteWebhookEndpoint',
          security,
          params: EndpointParams,
          response: { 204: z.null(), ...adminProblems, 404: problems[404] },
        },
        preHandler: adminOnly,
      },
      async (req, reply) => {
        await db.transaction(async (tx) => {
          await deleteEndpoint(tx, req.params.id)
          await audit(tx, {
            actor: userActor(userOf(req).userId),
            action: 'webhook_endpoint.deleted',
            subjectType: 'webhook_endpoint',
            subjectId: req.params.id,
            at: clock.now(),
          })
        })
        return reply.code(204).send(null)
      },
    )

    app.get(
      '/v1/webhook-endpoints/:id/deliveries',
      {
        schema: {
          tags: ['webhooks'],
          summary: "List an endpoint's deliveries",
          description:
            'Site admins only. The delivery log, newest first: one entry per event sent to the endpoint, with its attempts and the last response or error.',
          operationId: 'listWebhookDeliveries',
          security,
          params: EndpointParams,
          querystring: ListDeliveriesQuery,
          response: { 200: page(WebhookDelivery), ...adminProblems, 404: problems[404] },
        },
        preHandler: adminOnly,
      },
      async (req) => listDeliveries(db, req.params.id, req.query),
    )

    app.post(
      '/v1/webhook-endpoints/:id/deliveries/:deliveryId/retry',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'Retry a failed delivery',
          description:
            "Site admins only (people, not API keys). Sends a delivery that ended `failed` once more: it turns `pending` and is queued like a new delivery, through the same checks (a host name is resolved and its address checked again; while the endpoint's circuit breaker is open nothing is sent), signed afresh. Its `attempts` keep counting and the retry limit is already used, so a failure leaves it `failed` again, with the new outcome in the delivery log. 409 for a delivery that is not `failed` or whose endpoint was deleted. Recorded in the audit log as `webhook_delivery.retried`.",
          operationId: 'retryWebhookDelivery',
          security,
          params: DeliveryParams,
          response: {
            202: WebhookDelivery,
            ...adminProblems,
            404: problems[404],
            409: problem('conflict: the delivery is not `failed`, or its endpoint was deleted'),
          },
        },
        preHandler: adminOnly,
      },
      async (req, reply) => {
        const delivery = await db.transaction(async (tx) => {
          const retried = await retryDelivery(tx, deps, req.params.id, req.params.deliveryId)
          await audit(tx, {
            actor: userActor(userOf(req).userId),
            action: 'webhook_delivery.retried',
            subjectType: 'webhook_delivery',
            subjectId: retried.id,
            data: { endpoint_id: req.params.id, event_id: retried.event_id, attempts: retried.attempts },
            at: clock.now(),
          })
          return retried
        })
        return reply.code(202).send(delivery)
      },
    )
  }
