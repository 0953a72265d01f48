// Account API keys: they let the account's own software act on it, within their scopes.
import { unwrap } from '@plangate/sdk'
import { api } from '../lib/session.ts'
import { ApiKeys } from '../ui/ApiKeys.tsx'
import { useAccount } from './AccountLayout.tsx'

export function KeysPage() {
  const { account } = useAccount()
  const path = { accountId: account.id }
  return (
    <>
      <h2>API keys</h2>
      <p className="muted">
        Keys let your own software act on this account. Each key can do only what its scopes allow.
      </p>
      <ApiKeys
        site={false}
        reloadKey={[account.id]}
        load={async (cursor) =>
          unwrap(await api.GET('/v1/accounts/{accountId}/api-keys', { params: { path, query: { cursor } } }))
        }
        create={async (name, scopes) =>
          unwrap(
            await api.POST('/v1/accounts/{accountId}/api-keys', { params: { path }, body: { name, scopes } }),
          ).key
        }
        revoke={async (keyId) => {
          unwrap(
            await api.DELETE('/v1/accounts/{accountId}/api-keys/{keyId}', {
              params: { path: { ...path, keyId } },
            }),
          )
        }}
        formLabel="Create a key"
        empty="No keys yet."
      />
    </>
  )
}
