import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { requireAdmin, userOf } from '../auth/guards.ts'
import { createKey, listKeys, revokeKey } from './keys.ts'
import { AccountApiKeyParams, ApiKey, ApiKeyParams, CreateApiKeyBody, CreatedApiKey } from './schemas.ts'

const security = [{ bearer: [] }]
const tags = ['api keys']

const createdOnce =
  'The response carries the secret (`key`, starting `pgk_`), which is never shown again (a retry with the same Idempotency-Key replays this response); only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.'

export const keyRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    // Keys are made and revoked by people only: a key never makes or lists keys.
    const siteAdmin = requireAdmin(deps)
    const accountAdmin = requireMember(deps, 'admin')

    app.post(
      '/v1/admin/api-keys',
      {
        schema: {
          tags,
          summary: 'Create a site API key',
          description: `Site admins. A site key acts on every account within its scopes. ${createdOnce}`,
          operationId: 'createSiteApiKey',
          security,
          headers: IdempotencyHeaders,
          body: CreateApiKeyBody,
          response: { 201: CreatedApiKey, ...problems },
        },
        preHandler: siteAdmin,
      },
      async (req, reply) => {
        const { userId } = userOf(req)
        return idempotent(db, req, reply, userId, async (executor) => ({
          status: 201,
          body: await executor.transaction((tx) => createKey(tx, req.body, null, userId, clock.now())),
        }))
      },
    )

    app.get(
      '/v1/admin/api-keys',
      {
        schema: {
          tags,
          summary: 'List site API keys',
          description: 'Site admins. Newest first, revoked ones included; never the secrets.',
          operationId: 'listSiteApiKeys',
          security,
          querystring: PaginationQuery,
          response: { 200: page(ApiKey), ...problems },
        },
        preHandler: siteAdmin,
      },
      async (req) => listKeys(db, null, req.query),
    )

    app.delete(
      '/v1/admin/api-keys/:keyId',
      {
        schema: {
          tags,
          summary: 'Revoke a site API key',
          description:
            'Site admins. The next request with the key is refused (401) on every instance. Revoking a revoked key answers it again.',
          operationId: 'revokeSiteApiKey',
          security,
          params: ApiKeyParams,
          response: { 200: ApiKey, ...problems },
        },
        preHandler: siteAdmin,
      },
      async (req) =>
        db.transaction((tx) => revokeKey(tx, req.params.keyId, null, userOf(req).userId, clock.now())),
    )

    app.post(
      '/v1/accounts/:accountId/api-keys',
      {
        schema: {
          tags,
          summary: 'Create an account API key',
          description: `Owners and admins. An account key acts on this account only, within its scopes (\`plans:write\` is for site keys). ${createdOnce}`,
          operationId: 'createAccountApiKey',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: CreateApiKeyBody,
          response: { 201: CreatedApiKey, ...problems },
        },
        preHandler: accountAdmin,
      },
      async (req, reply) => {
        const { userId } = userOf(req)
        return idempotent(db, req, reply, userId, async (executor) => ({
          status: 201,
          body: await executor.transaction((tx) =>
            createKey(tx, req.body, req.params.accountId, userId, clock.now()),
          ),
        }))
      },
    )

    app.get(
      '/v1/accounts/:accountId/api-keys',
      {
        schema: {
          tags,
          summary: 'List account API keys',
          description: 'Owners and admins. Newest first, revoked ones included; never the secrets.',
          operationId: 'listAccountApiKeys',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(ApiKey), ...problems },
        },
        preHandler: accountAdmin,
      },
      async (req) => listKeys(db, req.params.accountId, req.query),
    )

    app.delete(
      '/v1/accounts/:accountId/api-keys/:keyId',
      {
        schema: {
          tags,
          summary: 'Revoke an account API key',
          description:
            'Owners and admins. The next request with the key is refused (401) on every instance. Revoking a revoked key answers it again.',
          operationId: 'revokeAccountApiKey',
          security,
          params: AccountApiKeyParams,
          response: { 200: ApiKey, ...problems },
        },
        preHandler: accountAdmin,
      },
      async (req) =>
        db.transaction((tx) =>
          revokeKey(tx, req.params.keyId, req.params.accountId, userOf(req).userId, clock.now()),
        ),
    )
  }
