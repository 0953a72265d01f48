// What an API key may do. A route that a key can use names the one scope it needs; a key without
// it gets 403 naming the scope. Routes that name no scope (signing in, profiles, managing keys,
// the admin dashboard's reads) are for people only.

export const keyScopes = [
  'accounts:read',
  'accounts:write',
  'subscriptions:write',
  'entitlements:read',
  'usage:write',
  'resources:write',
  'plans:write',
] as const
export type KeyScope = (typeof keyScopes)[number]

/** Scopes that only make sense for a site key (an account key acts on one existing account). */
export const siteOnlyScopes: readonly KeyScope[] = ['plans:write']

/** The 403 for a key that lacks the scope a route needs. */
export const missingScopeMessage = (scope: KeyScope) => `This API key lacks the ${scope} scope`
