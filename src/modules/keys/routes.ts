import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { requireAdmin, userOf } from '../auth/guards.ts'
import { createKey, keyOwner, listKeys, revokeKey } from './keys.ts'
import {
  AccountApiKeyParams,
  ApiKey,
  ApiKeyParams,
  CreateApiKeyBody,
  CreatedApiKey,
  ListApiKeysQuery,
} from './schemas.ts'

const security = [{ bearer: [] }]
const tags = ['api keys']

const endsWithCreator =
  'An account key works while the person who made it can still make keys in the account: it is revoked when they leave or are removed, are made a plain member, or deactivate their user.'

const createdOnce =
  'The response carries the secret (`key`, starting `pgk_`), which is never shown again (a retry with the same Idempotency-Key replays this response); only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.'

export const keyRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps
    // Keys are made and revoked by people only: a key never makes or lists keys.
    const siteAdmin = requireAdmin(deps)
    const accountAdmin = requireMember(deps, 'admin')
    const accountAdminOrSiteAdmin = requireMember(deps, 'admin', { adminMayRead: true })

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
          description:
            "Site admins. The site keys, or with `account_id` that account's keys. Newest first, revoked ones included; never the secrets.",
          operationId: 'listSiteApiKeys',
          security,
          querystring: ListApiKeysQuery,
          response: { 200: page(ApiKey), ...problems },
        },
        preHandler: siteAdmin,
      },
      async (req) => {
        const { account_id: accountId, ...query } = req.query
        return listKeys(db, accountId ?? null, query)
      },
    )

    app.delete(
      '/v1/admin/api-keys/:keyId',
      {
        schema: {
          tags,
          summary: 'Revoke an API key',
          description:
            'Site admins, for any key: a site key or an account key. The next request with the key is refused (401) on every instance. Revoking a revoked key answers it again.',
          operationId: 'revokeSiteApiKey',
          security,
          params: ApiKeyParams,
          response: { 200: ApiKey, ...problems },
        },
        preHandler: siteAdmin,
      },
      async (req) =>
        db.transaction(async (tx) => {
          const { accountId } = await keyOwner(tx, req.params.keyId)
          return revokeKey(tx, req.params.keyId, accountId, userOf(req).userId, clock.now())
        }),
    )

    app.post(
      '/v1/accounts/:accountId/api-keys',
      {
        schema: {
          tags,
          summary: 'Create an account API key',
          description: `Owners and admins. An account key acts on this account only, within its scopes (\`plans:write\` is for site keys). ${endsWithCreator} ${createdOnce}`,
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
          description:
            'Owners, admins and site admins. Newest first, revoked ones included (a key revoked with its maker has `revoked_at` set); never the secrets.',
          operationId: 'listAccountApiKeys',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(ApiKey), ...problems },
        },
        preHandler: accountAdminOrSiteAdmin,
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
