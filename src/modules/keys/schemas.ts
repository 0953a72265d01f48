import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'
import { keyScopes } from './scopes.ts'

export const KeyScope = z.enum(keyScopes).meta({
  description:
    'What the key may do: `accounts:read`, `accounts:write` (update accounts; with a site key, create them), `subscriptions:write`, `entitlements:read` (entitlements, check, usage history), `usage:write`, `resources:write` (staff, bookings), `plans:write` (site keys only).',
})

export const CreateApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100).meta({ description: 'A name to recognise the key by.' }),
    scopes: z.array(KeyScope).min(1).max(keyScopes.length),
    expires_at: z.iso
      .datetime({ offset: true })
      .nullable()
      .optional()
      .meta({ description: 'When the key stops working (ISO 8601); none: it works until revoked.' }),
  })
  .meta({ example: { name: 'booking backend', scopes: ['entitlements:read', 'resources:write'] } })
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBody>

const apiKeyExample = {
  id: '0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b',
  name: 'booking backend',
  prefix: 'pgk_Zm9vYmFy',
  scopes: ['entitlements:read', 'resources:write'],
  account_id: null,
  created_at: '2026-12-07T10:00:00.000Z',
  last_used_at: null,
  expires_at: null,
  revoked_at: null,
}

export const ApiKey = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().meta({ description: 'The first characters of the secret, to recognise it.' }),
    scopes: z.array(KeyScope),
    account_id: z
      .uuid()
      .nullable()
      .meta({ description: 'The account an account key acts on; null for a site key.' }),
    created_at: z.iso.datetime(),
    last_used_at: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'The last request made with the key, to the minute.' }),
    expires_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiKey', example: apiKeyExample })
export type ApiKey = z.infer<typeof ApiKey>

export const CreatedApiKey = ApiKey.extend({
  key: z.string().meta({
    description:
      'The secret, `pgk_…`: send it as `Authorization: Bearer <key>`. Shown only in this response.',
  }),
}).meta({
  id: 'CreatedApiKey',
  example: { ...apiKeyExample, key: 'pgk_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5' },
})
export type CreatedApiKey = z.infer<typeof CreatedApiKey>

export const ListApiKeysQuery = PaginationQuery.extend({
  account_id: z
    .uuid()
    .optional()
    .meta({ description: "Lists this account's keys instead of the site keys." }),
})
export type ListApiKeysQuery = z.infer<typeof ListApiKeysQuery>

export const ApiKeyParams = z.object({ keyId: z.uuid() })
export const AccountApiKeyParams = z.object({ accountId: z.uuid(), keyId: z.uuid() })
