import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'
import { isTimeZone } from '../../core/time.ts'
import { roles } from './roles.ts'

export const AccountParams = z.object({ accountId: z.uuid().describe('Account id') })
export type AccountParams = z.infer<typeof AccountParams>

export const TimeZone = z
  .string()
  .refine(isTimeZone, 'an IANA time zone such as Europe/Paris')
  .describe('IANA time zone; per-day limits count days in it.')

/** Visible ASCII, no spaces: ids such as `cus_8f2k`, `tenant-42` or `org:acme/7` fit, and nothing looks alike. */
export const externalIdPattern = /^[!-~]{1,255}$/

export const ExternalId = z
  .string()
  .regex(externalIdPattern, '1 to 255 visible ASCII characters (no spaces)')
  .describe(
    "The integrating product's own id for this tenant: 1 to 255 visible ASCII characters (`!` to `~`: letters, digits, punctuation; no spaces or control characters), compared exactly (case-sensitive). Unique: another account with the same one answers 409 `conflict`.",
  )

export const CreateAccountBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    timezone: TimeZone.default('UTC'),
    external_id: ExternalId.nullable()
      .optional()
      .describe(
        "The integrating product's own id for this tenant (see `Account.external_id`); site API keys only; omitted or null: none.",
      ),
    owner_email: z
      .email()
      .max(254)
      .transform((value) => value.trim())
      .optional()
      .describe(
        'Site API keys only: the address invited as the owner (an invitation email with an accept link). Until someone accepts, the address stands in for the owner in billing emails and in the one-trial-per-owner rule. A signed-in creator is the owner, so a user may not send it.',
      ),
  })
  .meta({ example: { name: 'Chic-Chic', timezone: 'Europe/Paris', external_id: 'salon-8421' } })
export type CreateAccountBody = z.infer<typeof CreateAccountBody>

export const UpdateAccountBody = z
  .object({
    name: z.string().trim().min(1).max(120).optional(),
    timezone: TimeZone.optional(),
    external_id: ExternalId.nullable()
      .optional()
      .describe(
        'Sets or changes the external id (site API keys only); null clears it; omitted leaves it as it is.',
      ),
  })
  .strict()
  .meta({ example: { name: 'Chic-Chic Paris', timezone: 'Europe/Paris' } })
export type UpdateAccountBody = z.infer<typeof UpdateAccountBody>

export const Account = z
  .object({
    id: z.uuid(),
    name: z.string(),
    timezone: z.string(),
    external_id: z
      .string()
      .nullable()
      .describe("The integrating product's own id for this tenant, unique; null when it has none."),
    role: z.enum(roles).nullable().describe("The caller's role; null for a site admin who is not a member."),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({
    id: 'Account',
    example: {
      id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      name: 'Chic-Chic',
      timezone: 'Europe/Paris',
      external_id: 'salon-8421',
      role: 'owner',
      created_at: '2026-11-01T09:00:00.000Z',
      updated_at: '2026-11-01T09:00:00.000Z',
    },
  })
export type Account = z.infer<typeof Account>

export const ListAccountsQuery = PaginationQuery.extend({
  external_id: ExternalId.optional().describe(
    "Only the account with this external id, among the caller's accounts: a page of one, or of none when no such account exists or the caller is not its member.",
  ),
})
export type ListAccountsQuery = z.infer<typeof ListAccountsQuery>

export const MemberParams = AccountParams.extend({ userId: z.uuid() })

export const ChangeMemberBody = z
  .object({ role: z.enum(roles).describe('The new role; only an owner makes or unmakes an owner.') })
  .strict()
  .meta({ example: { role: 'admin' } })
export type ChangeMemberBody = z.infer<typeof ChangeMemberBody>

export const Member = z
  .object({
    user_id: z.uuid(),
    email: z.string(),
    name: z.string().nullable(),
    role: z.enum(roles),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'Member',
    example: {
      user_id: '0197a1b2-0000-7000-8000-000000000003',
      email: 'ann@example.com',
      name: 'Ann',
      role: 'admin',
      created_at: '2030-03-11T08:30:00.000Z',
    },
  })
export type Member = z.infer<typeof Member>
