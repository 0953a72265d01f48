import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'
import { roles } from '../accounts/roles.ts'
import { Account, AccountParams } from '../accounts/schemas.ts'

/** What a client sees: `expired` is a pending invitation whose `expires_at` has passed. */
export const invitationStatuses = ['pending', 'accepted', 'revoked', 'expired'] as const
export type InvitationStatus = (typeof invitationStatuses)[number]

export const InvitationParams = AccountParams.extend({ invitationId: z.uuid().describe('Invitation id') })
export type InvitationParams = z.infer<typeof InvitationParams>

export const CreateInvitationBody = z
  .object({
    email: z
      .email()
      .max(254)
      .transform((value) => value.trim())
      .describe('Where the invitation goes; it may or may not belong to a user yet.'),
    role: z.enum(roles).default('member').describe('The role on acceptance; only an owner invites an owner.'),
  })
  .meta({ example: { email: 'ann@example.com', role: 'member' } })
export type CreateInvitationBody = z.infer<typeof CreateInvitationBody>

export const ListInvitationsQuery = PaginationQuery.extend({
  status: z.enum(invitationStatuses).optional().describe('Only invitations in this state.'),
})
export type ListInvitationsQuery = z.infer<typeof ListInvitationsQuery>

export const Invitation = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    email: z.string(),
    role: z.enum(roles),
    status: z.enum(invitationStatuses),
    invited_by: z.uuid().nullable().describe('The user who sent (or last re-sent) the invitation.'),
    expires_at: z.iso.datetime(),
    accepted_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso
      .datetime()
      .describe('When it was last sent: inviting the same address again refreshes it.'),
  })
  .meta({
    id: 'Invitation',
    example: {
      id: '0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b',
      account_id: '0197a1b2-0000-7000-8000-000000000001',
      email: 'ann@example.com',
      role: 'member',
      status: 'pending',
      invited_by: '0197a1b2-0000-7000-8000-000000000002',
      expires_at: '2030-03-17T10:00:00.000Z',
      accepted_at: null,
      revoked_at: null,
      created_at: '2030-03-10T10:00:00.000Z',
      updated_at: '2030-03-10T10:00:00.000Z',
    },
  })
export type Invitation = z.infer<typeof Invitation>

export const AcceptInvitationBody = z
  .object({ token: z.string().min(1).max(200).describe('The `token` of the emailed invitation link.') })
  .meta({ example: { token: 'Q2hpYy1DaGljIGludml0YXRpb24gdG9rZW4gZXhhbXBsZQ' } })
export type AcceptInvitationBody = z.infer<typeof AcceptInvitationBody>

export const AcceptedInvitation = z
  .object({
    account: Account.describe('The account joined, with the role it gives the caller.'),
    invitation: Invitation,
  })
  .meta({
    example: {
      account: {
        id: '0197a1b2-0000-7000-8000-000000000001',
        name: 'Chic-Chic',
        timezone: 'Europe/Paris',
        external_id: null,
        role: 'member',
        created_at: '2030-03-01T09:00:00.000Z',
        updated_at: '2030-03-01T09:00:00.000Z',
      },
      invitation: {
        id: '0197a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b',
        account_id: '0197a1b2-0000-7000-8000-000000000001',
        email: 'ann@example.com',
        role: 'member',
        status: 'accepted',
        invited_by: '0197a1b2-0000-7000-8000-000000000002',
        expires_at: '2030-03-17T10:00:00.000Z',
        accepted_at: '2030-03-11T08:30:00.000Z',
        revoked_at: null,
        created_at: '2030-03-10T10:00:00.000Z',
        updated_at: '2030-03-10T10:00:00.000Z',
      },
    },
  })
export type AcceptedInvitation = z.infer<typeof AcceptedInvitation>
