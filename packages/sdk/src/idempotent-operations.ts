// Generated from the OpenAPI document of the routes by `npm run types`; do not edit.
// `npm run check:types` fails when it is out of date.

/**
 * The operations (`METHOD /path/{template}`, as openapi-fetch's `schemaPath`) that declare the
 * `Idempotency-Key` header: the server replays the first answer to a retry with the same key, so
 * the SDK sends these again after a network error, a timeout, 429 or 5xx. Other POSTs and PATCHes
 * are sent once.
 */
export const idempotentOperations: ReadonlySet<string> = new Set([
  'POST /v1/accounts',
  'POST /v1/accounts/{accountId}/api-keys',
  'POST /v1/accounts/{accountId}/bookings',
  'POST /v1/accounts/{accountId}/invitations',
  'POST /v1/accounts/{accountId}/staff',
  'POST /v1/accounts/{accountId}/subscription',
  'POST /v1/accounts/{accountId}/usage',
  'POST /v1/admin/api-keys',
  'POST /v1/invitations/accept',
  'POST /v1/plans',
  'POST /v1/webhook-endpoints',
])
