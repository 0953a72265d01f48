import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/access.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { Invoice, listInvoices } from './invoices.ts'

export const billingRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/accounts/:accountId/invoices',
      {
        schema: {
          tags: ['billing'],
          summary: 'List invoices',
          description: "The account's invoices and payments, newest first; owners and admins.",
          operationId: 'listInvoices',
          security: [{ bearer: [] }],
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(Invoice), ...problems },
        },
        preHandler: requireMember(deps, 'admin', { adminMayRead: true }),
      },
      async (req) => listInvoices(deps.db, req.params.accountId, req.query),
    )
  }
