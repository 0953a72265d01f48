// The signed-in person: the access token lives in this module's memory only; the refresh token is
// the httpOnly cookie the API sets (path /v1/auth), which page scripts cannot read. A reload or a
// new tab gets an access token by refreshing through that cookie. Every API call goes through
// `api` (the SDK over a fetch that adds the token and, on a 401, refreshes once and retries).
import { createPlangate, type Plangate, PlangateError, unwrap } from '@plangate/sdk'
import { useSyncExternalStore } from 'react'

/** Remembered across reloads so a signed-out visitor does not try (and log) a refresh for nothing. */
const hintKey = 'plangate.signed-in'

export interface SessionState {
  status: 'unknown' | 'signed-out' | 'signed-in'
  accessToken: string | null
}

let state: SessionState = { status: 'unknown', accessToken: null }
const listeners = new Set<() => void>()

function set(next: SessionState): void {
  state = next
  for (const listener of listeners) listener()
}

export function useSession(): SessionState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    () => state,
  )
}

/** Stores a new access token (after sign-in or refresh). */
export function signedIn(accessToken: string): void {
  localStorage.setItem(hintKey, '1')
  set({ status: 'signed-in', accessToken })
}

function signedOut(): void {
  localStorage.removeItem(hintKey)
  set({ status: 'signed-out', accessToken: null })
}

let refreshing: Promise<string | null> | null = null

/**
 * Exchanges the refresh cookie for a new access token; one request at a time per tab (the API
 * gives tabs refreshing at once a sibling pair, so other tabs are fine). Null: signed out.
 */
export function refresh(): Promise<string | null> {
  refreshing ??= (async () => {
    try {
      const res = await fetch('/v1/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      if (!res.ok) {
        signedOut()
        return null
      }
      const body = (await res.json()) as { access_token: string }
      signedIn(body.access_token)
      return body.access_token
    } catch {
      // The network failed: keep whatever state there was, the next call tries again.
      return state.accessToken
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}

/**
 * After a Google/GitHub sign-in the API sends the browser back with only the refresh cookie set:
 * exchange it for an access token. False when that fails (the cookie did not come).
 */
export async function completeExternalSignIn(): Promise<boolean> {
  localStorage.setItem(hintKey, '1')
  return (await refresh()) !== null
}

/** On start: a visitor who signed in before gets a token from the cookie; anyone else is signed out. */
export async function restore(): Promise<void> {
  if (localStorage.getItem(hintKey)) await refresh()
  else signedOut()
}

/** A fetch that sends the access token and, when the API answers 401 to it, refreshes once and retries. */
async function sessionFetch(input: Request): Promise<Response> {
  const retry = input.clone()
  const token = state.accessToken
  if (token && !input.headers.has('authorization')) input.headers.set('authorization', `Bearer ${token}`)
  const response = await fetch(input)
  if (response.status !== 401 || !token || retry.url.includes('/v1/auth/')) return response
  const fresh = await refresh()
  if (!fresh) return response
  retry.headers.set('authorization', `Bearer ${fresh}`)
  return fetch(retry)
}

export const api: Plangate = createPlangate({
  baseUrl: window.location.origin,
  fetch: sessionFetch as typeof fetch,
  // A person is waiting: one quick retry at most.
  retries: 1,
  timeoutMs: 15_000,
})

/** Signs in with email and password; throws PlangateError (e.g. `invalid_credentials`, `rate_limited`). */
export async function signIn(email: string, password: string): Promise<void> {
  const tokens = unwrap(await api.POST('/v1/auth/token', { body: { email, password } }))
  signedIn(tokens.access_token)
}

/** Signs in with the tokens an emailed-code sign-in returned. */
export function signInWith(tokens: { access_token: string }): void {
  signedIn(tokens.access_token)
}

/** Ends this sign-in (the cookie's family) everywhere, then forgets the token. */
export async function signOut(): Promise<void> {
  await fetch('/v1/auth/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined)
  signedOut()
}

/** A person-readable sentence for an error thrown by a call. */
export function messageOf(error: unknown): string {
  if (error instanceof PlangateError) {
    if (error.code === 'rate_limited') {
      const wait = error.response?.headers.get('retry-after')
      return wait
        ? `Too many attempts. Try again in ${wait} seconds.`
        : 'Too many attempts. Try again shortly.'
    }
    return error.problem.detail ?? error.problem.title ?? error.message
  }
  if (error instanceof Error) return error.message
  return 'Something went wrong.'
}
