import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import {
  IdempotencyHeaders,
  idempotent,
  idempotentResumable,
  PaginationQuery,
  page,
  problems,
} from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { actorOf as auditActorOf, idempotencyScopeOf, principalOf } from '../auth/guards.ts'
import { listSubscriptionHistory } from './history.ts'
import { callsOut, cancel, changePlan, getCurrentSubscription, resume, subscribe } from './lifecycle.ts'
import { previewChange } from './preview.ts'
import {
  CancelBody,
  ChangePlanBody,
  ChangePreview,
  CheckoutStarted,
  PreviewQuery,
  SubscribeBody,
  Subscription,
  SubscriptionEvent,
} from './schemas.ts'

const security = [{ bearer: [] }]
const tags = ['subscription']

export const subscriptionRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const manage = requireMember(deps, 'admin', { scope: 'subscriptions:write' })
    const actorOf = (req: { params: { accountId: string } } & Parameters<typeof principalOf>[0]) => ({
      accountId: req.params.accountId,
      who: auditActorOf(principalOf(req)),
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
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => getCurrentSubscription(db, req.params.accountId, clock.now()),
    )

    app.get(
      '/v1/accounts/:accountId/subscription/history',
      {
        schema: {
          tags,
          summary: 'List subscription history',
          description:
            "Every change of the account's subscriptions, newest first: what happened (`type`), the status and plan before and after, who did it, and the details. Members, site admins, and API keys with `accounts:read`.",
          operationId: 'listSubscriptionHistory',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(SubscriptionEvent), ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listSubscriptionHistory(db, req.params.accountId, req.query),
    )

    app.post(
      '/v1/accounts/:accountId/subscription',
      {
        schema: {
          tags,
          summary: 'Subscribe',
          description:
            "Starts a subscription to a plan. Manual provider: 201, active at once (or trialing when the plan has trial days and the account and its owner never had a trial), with an open invoice. Stripe: 202 with a Checkout URL; the subscription stays `incomplete` until Stripe's webhook confirms the payment or the trial. Repeating the request while that Checkout is open returns the same session; another plan replaces it. 409 when the account already has a live subscription. When Stripe does not answer (503 `provider_unavailable` with Retry-After), the subscription stays `incomplete` without a Checkout and a retry (best with the same Idempotency-Key) resumes it: Stripe is never asked for a second session. 409 `idempotency_in_progress` while the first request with the key is still running.",
          operationId: 'subscribe',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: SubscribeBody,
          response: { 201: Subscription, 202: CheckoutStarted, ...problems },
        },
        preHandler: manage,
      },
      async (req, reply) => {
        const principal = idempotencyScopeOf(principalOf(req))
        // Manual: one transaction, so a concurrent retry with the key waits and replays the answer.
        // Stripe: called between two short transactions; the key keeps the request's progress.
        if (!callsOut(deps.billing.default.name)) {
          return idempotent<Subscription | CheckoutStarted>(db, req, reply, principal, (executor) =>
            subscribe(executor, deps, actorOf(req), req.body.plan),
          )
        }
        return idempotentResumable<Subscription | CheckoutStarted>(db, req, reply, principal, (progress) =>
          subscribe(db, deps, actorOf(req), req.body.plan, progress),
        )
      },
    )

    app.patch(
      '/v1/accounts/:accountId/subscription',
      {
        schema: {
          tags,
          summary: 'Change plan',
          description:
            'Now or at period end. An upgrade made now is charged pro rata for the rest of the period; with Stripe the new plan is granted only once that invoice is paid (the plan stays as it is while the payment is pending or after it fails). A downgrade deletes nothing and may leave the account over its new limits (see the preview). Choosing the current plan again drops a scheduled change.',
          operationId: 'changePlan',
          security,
          params: AccountParams,
          body: ChangePlanBody,
          response: { 200: Subscription, ...problems },
        },
        preHandler: manage,
      },
      async (req) => changePlan(db, deps, actorOf(req), req.body),
    )

    app.get(
      '/v1/accounts/:accountId/subscription/preview',
      {
        schema: {
          tags,
          summary: 'Preview a plan change',
          description:
            'What changing to `plan` now would cost (pro rata, as the change computes it), the price difference per period, and which limits of the target plan the account is over today. Changes nothing.',
          operationId: 'previewPlanChange',
          security,
          params: AccountParams,
          querystring: PreviewQuery,
          response: { 200: ChangePreview, ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => previewChange(db, req.params.accountId, req.query.plan, clock.now()),
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
      async (req) => cancel(db, deps, actorOf(req), req.body.at_period_end),
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
      async (req) => resume(db, deps, actorOf(req)),
    )
  }
