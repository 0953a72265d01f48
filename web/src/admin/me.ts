// The signed-in person (`GET /v1/me`), read once per sign-in: the top bar shows the Admin link to
// site admins, and the dashboard refuses everyone else in words.
import { type components, unwrap } from '@plangate/sdk'
import { api, useSession } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'

export type User = components['schemas']['User']

let cached: Promise<User> | null = null

function readMe(): Promise<User> {
  cached ??= (async () => unwrap(await api.GET('/v1/me')))().catch((error: unknown) => {
    cached = null
    throw error
  })
  return cached
}

/** The signed-in user; `user` is null while loading or when signed out. */
export function useMe(): { user: User | null; error: string | null } {
  const session = useSession()
  // Another person may sign in next in this tab: forget the last one.
  if (session.status === 'signed-out') cached = null
  const loaded = useLoad(async () => (session.status === 'signed-in' ? readMe() : null), [session.status])
  return { user: loaded.data, error: loaded.error }
}
