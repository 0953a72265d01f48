import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { requireAdmin, userOf } from '../auth/guards.ts'
import { markFailed, markPaid } from '../subscriptions/payments.ts'
import { listInvoices } from './invoices.ts'
import { Invoice, InvoiceParams, PortalSession } from './schemas.ts'

const security = [{ bearer: [] }]

export const billingRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db } = deps

    app.get(
      '/v1/accounts/:accountId/invoices',
      {
        schema: {
          tags: ['billing'],
          summary: 'List invoices',
          description:
            "The account's invoices and payments, newest first: one per provider invoice, with amount, currency, status (`paid`, `open`, `failed`, `refunded`, `void`), period and hosted URL. Owners and admins.",
          operationId: 'listInvoices',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(Invoice), ...problems },
        },
        preHandler: requireMember(deps, 'admin', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listInvoices(db, req.params.accountId, req.query),
    )

    app.post(
      '/v1/accounts/:accountId/billing-portal',
      {
        schema: {
          tags: ['billing'],
          summary: 'Open the billing portal',
          description:
            'A Stripe Customer Portal session where the customer updates payment methods, sees invoices and (as configured in Stripe) changes or cancels the plan; changes made there reach plangate by webhook. Owners and admins. 409 with the manual provider; 503 `provider_unavailable` when Stripe does not answer.',
          operationId: 'createBillingPortalSession',
          security,
          params: AccountParams,
          response: { 200: PortalSession, ...problems },
        },
        preHandler: requireMember(deps, 'admin', { scope: 'subscriptions:write' }),
      },
      // No transaction: the Stripe calls must not hold a connection (the customer id is one short write).
      async (req) => ({ url: await deps.billing.default.portalUrl(db, req.params.accountId) }),
    )

    const adminOnly = requireAdmin(deps)
    for (const [action, mark] of [
      ['mark-paid', markPaid],
      ['mark-failed', markFailed],
    ] as const) {
      app.post(
        `/v1/admin/invoices/:id/${action}`,
        {
          schema: {
            tags: ['admin'],
            summary: action === 'mark-paid' ? 'Mark an invoice paid' : 'Mark an invoice failed',
            description:
              action === 'mark-paid'
                ? 'Site admins, manual provider: records the payment of an open or failed invoice; a past_due subscription with nothing else unpaid becomes active again. Repeating it changes nothing. 409 for a Stripe invoice (Stripe settles those).'
                : 'Site admins, manual provider: records that the payment of an open invoice failed; the subscription becomes past_due and keeps access for GRACE_PERIOD_DAYS, and its owners are emailed. 409 for a Stripe invoice.',
            operationId: action === 'mark-paid' ? 'markInvoicePaid' : 'markInvoiceFailed',
            security,
            params: InvoiceParams,
            response: { 200: Invoice, ...problems },
          },
          preHandler: adminOnly,
        },
        async (req) => db.transaction((tx) => mark(tx, deps, req.params.id, userOf(req).userId)),
      )
    }
  }
