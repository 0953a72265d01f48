// Site API keys: a site key acts on every account within its scopes (plans:write pushes plans).
import { unwrap } from '@plangate/sdk'
import { api } from '../lib/session.ts'
import { ApiKeys } from '../ui/ApiKeys.tsx'

export function AdminKeys() {
  return (
    <>
      <h2>Site API keys</h2>
      <p className="muted">A site key acts on every account, within its scopes. Keep it on servers only.</p>
      <ApiKeys
        site
        reloadKey={[]}
        load={async (cursor) =>
          unwrap(await api.GET('/v1/admin/api-keys', { params: { query: { cursor } } }))
        }
        create={async (name, scopes) =>
          unwrap(await api.POST('/v1/admin/api-keys', { body: { name, scopes } })).key
        }
        revoke={async (keyId) => {
          unwrap(await api.DELETE('/v1/admin/api-keys/{keyId}', { params: { path: { keyId } } }))
        }}
        formLabel="Create a site key"
        empty="No site keys yet."
      />
    </>
  )
}
