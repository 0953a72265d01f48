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
  /**
   * Set while a refresh could not be answered (rate limited, the service failing or unreachable)
   * and another is scheduled: that is not a sign-out, so the hint and any token are kept.
   */
  retry: { reason: 'rate-limited' | 'unavailable'; at: number } | null
}

let state: SessionState = { status: 'unknown', accessToken: null, retry: null }
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
  cancelRetry()
  set({ status: 'signed-in', accessToken, retry: null })
}

function signedOut(): void {
  localStorage.removeItem(hintKey)
  cancelRetry()
  set({ status: 'signed-out', accessToken: null, retry: null })
}

let refreshing: Promise<string | null> | null = null
let retryTimer: ReturnType<typeof setTimeout> | undefined
/** Refreshes that failed in a row without an answer to go by: the backoff doubles with each. */
let failures = 0

function cancelRetry(): void {
  clearTimeout(retryTimer)
  retryTimer = undefined
  failures = 0
}

/** Seconds from a Retry-After header (seconds or an HTTP date), or null without a usable one. */
function retryAfterSeconds(res: Response): number | null {
  const value = res.headers.get('retry-after')
  if (!value) return null
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000
  return Number.isFinite(seconds) ? Math.min(Math.max(Math.ceil(seconds), 1), 300) : null
}

/** Keeps the session as it is and refreshes again in `seconds` (a short backoff when unknown). */
function retryLater(reason: 'rate-limited' | 'unavailable', seconds: number | null): void {
  failures += 1
  const wait = seconds ?? Math.min(2 ** failures, 30)
  clearTimeout(retryTimer)
  retryTimer = setTimeout(() => {
    retryTimer = undefined
    void refresh()
  }, wait * 1000)
  set({ ...state, retry: { reason, at: Date.now() + wait * 1000 } })
}

/**
 * Exchanges the refresh cookie for a new access token; one request at a time per tab (the API
 * gives tabs refreshing at once a sibling pair, so other tabs are fine). Only a 401 means signed
 * out (the API answers it for a missing, unknown, expired, revoked or reused refresh token): a
 * 429, a 5xx or a network failure keeps the session as it is and tries again after Retry-After
 * or a short backoff. Null: no access token (yet).
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
      if (res.status === 401) {
        signedOut()
        return null
      }
      if (!res.ok) {
        retryLater(res.status === 429 ? 'rate-limited' : 'unavailable', retryAfterSeconds(res))
        return state.accessToken
      }
      const body = (await res.json()) as { access_token: string }
      signedIn(body.access_token)
      return body.access_token
    } catch {
      // The network failed (or the answer was not JSON): not a sign-out; try again shortly.
      retryLater('unavailable', null)
      return state.accessToken
    } finally {
      refreshing = null
    }
  })()
  return refreshing
}

/** Resolves once the session is known: signed in or out, with no refresh waiting to be retried. */
function settled(): Promise<SessionState['status']> {
  const done = () => state.status !== 'unknown' && !state.retry
  if (done()) return Promise.resolve(state.status)
  return new Promise((resolve) => {
    const listener = () => {
      if (!done()) return
      listeners.delete(listener)
      resolve(state.status)
    }
    listeners.add(listener)
  })
}

/**
 * After a Google/GitHub sign-in the API sends the browser back with only the refresh cookie set:
 * exchange it for an access token (waiting out a rate limit or an outage). False when that fails
 * (the cookie did not come).
 */
export async function completeExternalSignIn(): Promise<boolean> {
  localStorage.setItem(hintKey, '1')
  await refresh()
  return (await settled()) === 'signed-in'
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
  // No new token (signed out, or the refresh is to be retried later): the 401 stands.
  if (!fresh || fresh === token) return response
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
