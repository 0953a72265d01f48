import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { AppError } from '../../core/errors.ts'
import { IdempotencyHeaders, idempotent, PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import {
  actorOf,
  authenticate,
  idempotencyScopeOf,
  type Principal,
  principalOf,
  userOf,
} from '../auth/guards.ts'
import { createInvitation } from '../invitations/invitations.ts'
import {
  assertExternalIdWriter,
  createAccount,
  getAccount,
  listAccounts,
  listKeyAccounts,
  updateAccount,
} from './accounts.ts'
import { requireMember } from './guards.ts'
import { changeMemberRole, listMembers, removeMember } from './members.ts'
import {
  Account,
  AccountParams,
  ChangeMemberBody,
  CreateAccountBody,
  ListAccountsQuery,
  Member,
  MemberParams,
  UpdateAccountBody,
} from './schemas.ts'

const security = [{ bearer: [] }]

/** A site API key: the integrating product's own credential, acting on every account. */
const isSiteKey = (principal: Principal): boolean => principal.kind === 'key' && principal.accountId === null

export const accountRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    app.post(
      '/v1/accounts',
      {
        schema: {
          tags: ['accounts'],
          summary: 'Create an account',
          description:
            "Creates a tenant account. A signed-in user becomes its owner. A site API key with `accounts:write` creates it with no member and, with `owner_email`, invites that address as owner (the response's `role` is null); an account key cannot create accounts (403). `external_id` is the integrating product's own id for the tenant, so only a site key sets it (a person who sends one gets 403); it is unique, so another account with it answers 409 `conflict` (also when two requests race).",
          operationId: 'createAccount',
          security,
          headers: IdempotencyHeaders,
          body: CreateAccountBody,
          response: { 201: Account, ...problems },
        },
        preHandler: authenticate(deps, { scope: 'accounts:write' }),
      },
      async (req, reply) => {
        const principal = principalOf(req)
        const { owner_email: ownerEmail, ...input } = req.body
        if (principal.kind === 'user' && ownerEmail !== undefined) {
          throw new AppError(
            'validation_failed',
            'owner_email is for API keys: you are the owner of what you create',
            {
              errors: [{ location: 'body.owner_email', message: 'only with a site API key' }],
            },
          )
        }
        if (principal.kind === 'key' && principal.accountId !== null) {
          throw new AppError('forbidden', 'An account key cannot create accounts; use a site key')
        }
        if (input.external_id != null) assertExternalIdWriter(isSiteKey(principal))
        return idempotent(db, req, reply, idempotencyScopeOf(principal), async (executor) => ({
          status: 201,
          body: await executor.transaction(async (tx) => {
            const actor = actorOf(principal)
            const account = await createAccount(tx, actor, input, clock.now())
            if (ownerEmail !== undefined) {
              await createInvitation(
                tx,
                deps,
                account.id,
                { actor, role: 'owner' },
                { email: ownerEmail, role: 'owner' },
                clock.now(),
              )
            }
            return account
          }),
        }))
      },
    )

    app.get(
      '/v1/accounts',
      {
        schema: {
          tags: ['accounts'],
          summary: 'List my accounts',
          description:
            'The accounts the caller is a member of, newest first. With `external_id`, the one account that has it, as a page of one (`next_cursor` null), or an empty page when there is none or the caller is not its member: an account is never revealed to someone who is not in it. An API key with `accounts:read` finds a tenant by `external_id` (a site key: any account; an account key: its own); without it, an account key gets its own account and a site key 400.',
          operationId: 'listAccounts',
          security,
          querystring: ListAccountsQuery,
          response: { 200: page(Account), ...problems },
        },
        preHandler: authenticate(deps, { scope: 'accounts:read' }),
      },
      async (req) => {
        const principal = principalOf(req)
        if (principal.kind === 'user') return listAccounts(db, principal.userId, req.query)
        return listKeyAccounts(db, principal.accountId, req.query.external_id)
      },
    )

    app.get(
      '/v1/accounts/:accountId',
      {
        schema: {
          tags: ['accounts'],
          summary: 'Get an account',
          operationId: 'getAccount',
          description:
            'Members, site admins, and API keys with `accounts:read` (`role` is null for the last two).',
          security,
          params: AccountParams,
          response: { 200: Account, ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => getAccount(db, req.params.accountId, req.membership?.role ?? null),
    )

    app.patch(
      '/v1/accounts/:accountId',
      {
        schema: {
          tags: ['accounts'],
          summary: 'Update an account',
          description:
            'Name, time zone and external id; owners and admins, and API keys with `accounts:write`. Only a site API key sets, changes or clears (null) `external_id`: a person or an account key that sends it gets 403. Another account with the id answers 409 `conflict`.',
          operationId: 'updateAccount',
          security,
          params: AccountParams,
          body: UpdateAccountBody,
          response: { 200: Account, ...problems },
        },
        preHandler: requireMember(deps, 'admin', { scope: 'accounts:write' }),
      },
      async (req) => {
        const principal = principalOf(req)
        if (req.body.external_id !== undefined) assertExternalIdWriter(isSiteKey(principal))
        return db.transaction((tx) =>
          updateAccount(
            tx,
            req.params.accountId,
            actorOf(principal),
            req.membership?.role ?? null,
            req.body,
            clock.now(),
          ),
        )
      },
    )

    app.get(
      '/v1/accounts/:accountId/members',
      {
        schema: {
          tags: ['accounts'],
          summary: 'List members',
          operationId: 'listMembers',
          security,
          params: AccountParams,
          querystring: PaginationQuery,
          response: { 200: page(Member), ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listMembers(db, req.params.accountId, req.query),
    )

    app.patch(
      '/v1/accounts/:accountId/members/:userId',
      {
        schema: {
          tags: ['accounts'],
          summary: "Change a member's role",
          description:
            'Owners and admins; only an owner makes or unmakes an owner, and the last owner stays one (409). Made a plain member, a person loses the account API keys they made (revoked). People join by invitation (`POST /v1/accounts/{accountId}/invitations`).',
          operationId: 'changeMemberRole',
          security,
          params: MemberParams,
          body: ChangeMemberBody,
          response: { 200: Member, ...problems },
        },
        preHandler: requireMember(deps, 'admin'),
      },
      async (req) => {
        const actor = { userId: userOf(req).userId, role: req.membership?.role ?? 'member' }
        return db.transaction((tx) =>
          changeMemberRole(tx, req.params.accountId, actor, req.params.userId, req.body.role, clock.now()),
        )
      },
    )

    app.delete(
      '/v1/accounts/:accountId/members/:userId',
      {
        schema: {
          tags: ['accounts'],
          summary: 'Remove a member',
          description:
            'Owners and admins remove others; any member may remove themselves. The last owner stays. The account API keys the member made are revoked.',
          operationId: 'removeMember',
          security,
          params: MemberParams,
          response: { 204: z.null(), ...problems },
        },
        preHandler: requireMember(deps, 'member'),
      },
      async (req, reply) => {
        const actor = { userId: userOf(req).userId, role: req.membership?.role ?? 'member' }
        await db.transaction((tx) =>
          removeMember(tx, req.params.accountId, actor, req.params.userId, clock.now()),
        )
        return reply.code(204).send(null)
      },
    )
  }
