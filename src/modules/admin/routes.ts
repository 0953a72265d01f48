import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { page, problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { audit, userActor } from '../audit/audit.ts'
import { requireAdmin, userOf } from '../auth/guards.ts'
import { Job } from '../jobs/schemas.ts'
import {
  listAccounts,
  listAuditLog,
  listStripeEvents,
  listSubscriptions,
  readMetrics,
  readMetricsSeries,
} from './queries.ts'
import {
  AdminAccount,
  AdminSubscription,
  AuditEntry,
  JobParams,
  ListAccountsQuery,
  ListAuditLogQuery,
  ListStripeEventsQuery,
  ListSubscriptionsQuery,
  Metrics,
  MetricsSeries,
  MetricsSeriesQuery,
  ReceivedStripeEvent,
} from './schemas.ts'

const tags = ['admin']
const security = [{ bearer: [] }]
const adminProblems = { 400: problems[400], 401: problems[401], 403: problems[403], 429: problems[429] }

export const adminRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    const adminOnly = requireAdmin(deps)

    app.get(
      '/v1/admin/subscriptions',
      {
        schema: {
          tags,
          summary: 'List all subscriptions',
          description:
            "Site admins: every account's subscriptions, newest first, with the account's name. The filters match the stored `status`, while each result shows the status as of this request: a subscription whose period is over but not yet swept matches `status=active` and reads `expired`.",
          operationId: 'adminListSubscriptions',
          security,
          querystring: ListSubscriptionsQuery,
          response: { 200: page(AdminSubscription), ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => listSubscriptions(db, req.query, clock.now()),
    )

    app.get(
      '/v1/admin/accounts',
      {
        schema: {
          tags,
          summary: 'List all accounts',
          description:
            'Site admins: accounts newest first, with their member count, owner and latest subscription. `q` matches a part of the name (any case) or an exact account id.',
          operationId: 'adminListAccounts',
          security,
          querystring: ListAccountsQuery,
          response: { 200: page(AdminAccount), ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => listAccounts(db, req.query, clock.now()),
    )

    app.get(
      '/v1/admin/metrics',
      {
        schema: {
          tags,
          summary: 'Revenue and churn',
          description:
            'Site admins: figures as of this request. MRR counts the subscriptions that grant access now and pay: `active`, `past_due` in its grace period and `canceled` before its period ends; not `trialing` or `incomplete`. Each counts what its subscriber pays a month (the `price` of the subscription; a yearly price a twelfth, rounded to the cent), which after a price change of the plan may differ from the price of the plan. `mrr_cents` is in `usd`; `mrr_by_currency` gives every currency, so plans priced in another currency are never added to dollars. `trialing`, `past_due`, `active` and `canceled_pending` count subscriptions with access now. Churn over the last 30 days: the subscriptions canceled or expired whose access ended in the window, divided by those created before the window that had not ended when it began (0 when there were none).',
          operationId: 'adminMetrics',
          security,
          response: { 200: Metrics, ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async () => readMetrics(db, clock.now()),
    )

    app.get(
      '/v1/admin/metrics/series',
      {
        schema: {
          tags,
          summary: 'Revenue and subscriptions over time',
          description:
            "Site admins: the figures of `GET /v1/admin/metrics` over time, for charts: one point per `interval` (day, 7 days, or calendar month, counted from `from`) from `from` to `to` (UTC days; default the last 90 days; at most 366 points; `to` not after today), oldest first. Each point holds the figures as they stood at its `end`: the midnight (UTC) that ends its interval, or for the current one this request, so the last point of a series ending today equals `GET /v1/admin/metrics`. `mrr_cents`, `mrr_by_currency`, `active_by_plan`, `active`, `trialing`, `past_due` and `canceled_pending` count the subscriptions that had access at that instant, defined as in `/v1/admin/metrics`; MRR counts what each subscriber paid at that instant (the price is recorded with every transition). A subscription's past states come from its recorded transitions (its history); an expiry counts from when the hourly sweep recorded it. `cancellations` counts the cancellations made during the interval (immediate or at period end), `churned` the subscriptions canceled or expired whose access ended during it, the counterpart of `churn_30d.canceled_or_expired`.",
          operationId: 'adminMetricsSeries',
          security,
          querystring: MetricsSeriesQuery,
          response: { 200: MetricsSeries, ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => readMetricsSeries(db, req.query, clock.now()),
    )

    app.get(
      '/v1/admin/webhook-events',
      {
        schema: {
          tags,
          summary: 'List received Stripe events',
          description:
            'Site admins: the Stripe webhook events as received, latest first, with how often applying them was tried and the last error. `processed=false` lists the events not applied yet; `include=payload` adds the body of each event.',
          operationId: 'adminListWebhookEvents',
          security,
          querystring: ListStripeEventsQuery,
          response: { 200: page(ReceivedStripeEvent), ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => listStripeEvents(db, req.query),
    )

    app.get(
      '/v1/admin/audit-log',
      {
        schema: {
          tags,
          summary: 'Read the audit log',
          description:
            'Site admins: who changed what, newest first, filtered by action (exact or `auth.*`), account, actor type, acting user or subject. Sign-in events are here too (`auth.sign_in`, `auth.sign_in_failed`, …), never with a password, token or code.',
          operationId: 'adminListAuditLog',
          security,
          querystring: ListAuditLogQuery,
          response: { 200: page(AuditEntry), ...adminProblems },
        },
        preHandler: adminOnly,
      },
      async (req) => listAuditLog(db, req.query),
    )

    app.post(
      '/v1/admin/jobs/:id/retry',
      {
        schema: {
          tags,
          summary: 'Retry a failed job',
          description:
            'Site admins (people only): gives a job in state `failed` (it used up its retries) one more attempt. The job keeps its id and payload, turns `retry` with its retry limit one higher, and runs when a worker next polls; if that attempt fails too it is `failed` again. 409 for a job in any other state (still retrying, running, completed or cancelled). Recorded in the audit log as `job.retried`.',
          operationId: 'adminRetryJob',
          security,
          params: JobParams,
          response: {
            200: Job,
            ...adminProblems,
            404: problems[404],
            409: problem('conflict: the job is not in state `failed`'),
          },
        },
        preHandler: adminOnly,
      },
      async (req) =>
        db.transaction(async (tx) => {
          const job = await deps.jobs.retry(tx, req.params.id)
          await audit(tx, {
            actor: userActor(userOf(req).userId),
            action: 'job.retried',
            subjectType: 'job',
            subjectId: job.id,
            data: { name: job.name, retry_limit: job.retry_limit },
            at: clock.now(),
          })
          return job
        }),
    )
  }
