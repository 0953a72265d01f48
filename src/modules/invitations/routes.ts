import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdempotencyHeaders, idempotent, page, problem, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { actorOf, authenticate, idempotencyScopeOf, principalOf, userOf } from '../auth/guards.ts'
import {
  acceptInvitation,
  createInvitation,
  type Inviter,
  listInvitations,
  memberInviter,
  revokeInvitation,
} from './invitations.ts'
import {
  AcceptedInvitation,
  AcceptInvitationBody,
  CreateInvitationBody,
  Invitation,
  InvitationParams,
  ListInvitationsQuery,
} from './schemas.ts'

const tags = ['invitations']
const security = [{ bearer: [] }]

const inviteProblems = {
  ...problems,
  409: problem('already_member, or conflict (Idempotency-Key reused)'),
}

const acceptProblems = {
  ...problems,
  403: problem('invitation_email_mismatch or email_not_verified'),
  404: problem('invitation_not_found'),
  409: problem('already_member, or conflict (Idempotency-Key reused)'),
  410: problem('invitation_expired, invitation_revoked or invitation_used'),
}

/**
 * Who invites or revokes in this request: a member with their role; a site key with an owner's
 * authority (it may have created the account, see `POST /v1/accounts`); an account key as an admin
 * (its maker may be one), so it never invites or revokes an owner.
 */
function inviterOf(req: FastifyRequest): Inviter {
  const principal = principalOf(req)
  if (principal.kind === 'key') {
    return { actor: actorOf(principal), role: principal.accountId === null ? 'owner' : 'admin' }
  }
  return memberInviter(principal.userId, req.membership?.role ?? 'member')
}

export const invitationRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    app.post(
      '/v1/accounts/:accountId/invitations',
      {
        schema: {
          tags,
          summary: 'Invite someone',
          description:
            'Emails an invitation link (valid 7 days, single use) to the address, whether or not it belongs to a user: the answer is the same 202 either way. Inviting an address with a pending invitation refreshes that invitation (new role and expiry; the earlier link stops working). Owners and admins, or an API key with `accounts:write`; only an owner (or a site key) invites an owner. 409 `already_member` when a member has this address.',
          operationId: 'createInvitation',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: CreateInvitationBody,
          response: { 202: Invitation, ...inviteProblems },
        },
        preHandler: requireMember(deps, 'admin', { scope: 'accounts:write' }),
      },
      async (req, reply) => {
        const principal = principalOf(req)
        return idempotent(db, req, reply, idempotencyScopeOf(principal), async (executor) => ({
          status: 202,
          body: await executor.transaction((tx) =>
            createInvitation(tx, deps, req.params.accountId, inviterOf(req), req.body, clock.now()),
          ),
        }))
      },
    )

    app.get(
      '/v1/accounts/:accountId/invitations',
      {
        schema: {
          tags,
          summary: 'List invitations',
          description:
            'Newest first; `?status=` keeps one state. Owners and admins, or an API key with `accounts:read`.',
          operationId: 'listInvitations',
          security,
          params: AccountParams,
          querystring: ListInvitationsQuery,
          response: { 200: page(Invitation), ...problems },
        },
        preHandler: requireMember(deps, 'admin', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listInvitations(db, req.params.accountId, req.query, clock.now()),
    )

    app.delete(
      '/v1/accounts/:accountId/invitations/:invitationId',
      {
        schema: {
          tags,
          summary: 'Revoke an invitation',
          description:
            'The link stops working at once. Owners and admins, or an API key with `accounts:write`; an owner invitation only by an owner (or a site key). 409 when it is no longer pending.',
          operationId: 'revokeInvitation',
          security,
          params: InvitationParams,
          response: { 204: z.null(), ...problems },
        },
        preHandler: requireMember(deps, 'admin', { scope: 'accounts:write' }),
      },
      async (req, reply) => {
        await db.transaction((tx) =>
          revokeInvitation(tx, req.params.accountId, inviterOf(req), req.params.invitationId, clock.now()),
        )
        return reply.code(204).send(null)
      },
    )

    app.post(
      '/v1/invitations/accept',
      {
        schema: {
          tags,
          summary: 'Accept an invitation',
          description:
            'Joins the account with the role of the invitation. The signed-in user must own the invited address and have verified it. Single use: a used, revoked or expired invitation is a 410 with its own code.',
          operationId: 'acceptInvitation',
          security,
          headers: IdempotencyHeaders,
          body: AcceptInvitationBody,
          response: { 200: AcceptedInvitation, ...acceptProblems },
        },
        preHandler: authenticate(deps),
      },
      async (req, reply) => {
        const { userId } = userOf(req)
        return idempotent(db, req, reply, userId, async (executor) => ({
          status: 200,
          body: await executor.transaction((tx) => acceptInvitation(tx, userId, req.body.token, clock.now())),
        }))
      },
    )
  }
