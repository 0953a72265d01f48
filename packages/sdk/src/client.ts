// The hand-written layer over openapi-fetch: the typed methods (GET/POST/PATCH/DELETE by `paths`)
// stay openapi-fetch's own; a middleware sets the credentials and the Idempotency-Key once per
// call, and a custom `fetch` under it makes each attempt with a timeout and retries what is safe
// to retry. Nothing here imports the service: this package only knows the OpenAPI document.
import createClient, { type Client, type Middleware } from 'openapi-fetch'
import { idempotentOperations } from './idempotent-operations.ts'
import type { paths } from './schema.d.ts'

export interface PlangateOptions {
  /** The server's origin, e.g. `https://plangate.example.com` (paths start with `/v1`). */
  baseUrl: string
  /** An API key (`pgk_…`), sent as `Authorization: Bearer`. */
  apiKey?: string
  /** Or a user's access token, sent the same way. */
  token?: string
  /** Per attempt; a timed-out attempt counts as a network error. */
  timeoutMs?: number
  /** Further attempts after the first, for requests that may be retried. */
  retries?: number
  /** The fetch to send with (tests, proxies); defaults to the global one. */
  fetch?: typeof globalThis.fetch
  /** The longest wait before a retry, whatever `Retry-After` says. */
  maxRetryDelayMs?: number
  /** The first backoff delay without `Retry-After`; doubled per attempt, with jitter. */
  baseRetryDelayMs?: number
}

export type Plangate = Client<paths>

const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

/**
 * Whether an operation (its method and path template, `POST /v1/accounts/{accountId}/staff`)
 * honours an Idempotency-Key: its OpenAPI operation declares the header, and the server replays the
 * first answer to a request repeating the key instead of acting twice.
 */
export function takesIdempotencyKey(method: string, schemaPath: string): boolean {
  return idempotentOperations.has(`${method.toUpperCase()} ${schemaPath}`)
}

/**
 * Whether a request may be sent again. GET/HEAD/PUT/DELETE always; POST and PATCH only with an
 * Idempotency-Key. The client's middleware sends one only to the operations that honour it
 * (`takesIdempotencyKey`), so a POST such as a refresh or a cancel, which would fail or act again
 * when repeated, is sent once. With `retryingFetch` on its own, give a key only to those operations.
 */
export function isRetryable(request: Request): boolean {
  return idempotentMethods.has(request.method) || request.headers.has('idempotency-key')
}

/** Whether a response says "try again later": 429, a 5xx but 501, or a 409 carrying Retry-After (idempotency_in_progress). */
export function isRetryableStatus(response: Response): boolean {
  const { status } = response
  if (status === 429) return true
  if (status >= 500 && status !== 501) return true
  return status === 409 && response.headers.has('retry-after')
}

/** The wait a `Retry-After` header asks for (delay-seconds or an HTTP date), in ms; undefined if absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined
  const value = header.trim()
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

const sleep = (ms: number, signal: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })

/**
 * An attempt's signal: aborted by the caller's signal, or after `ms` with a TimeoutError (the
 * answer's body included). Not `AbortSignal.any` with `AbortSignal.timeout`: the composite holds
 * the timeout signal only weakly, and once collected it never fires. Here the timer holds it.
 */
function attemptSignal(caller: AbortSignal, ms: number): AbortSignal {
  const controller = new AbortController()
  const onAbort = () => controller.abort(caller.reason)
  if (caller.aborted) onAbort()
  else caller.addEventListener('abort', onAbort, { once: true })
  const timer: unknown = setTimeout(() => {
    caller.removeEventListener('abort', onAbort)
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  // On Node, a pending timeout must not keep the process alive.
  ;(timer as { unref?: () => void }).unref?.()
  return controller.signal
}

/** A fetch that sends a request up to `1 + retries` times (see isRetryable / isRetryableStatus). */
export function retryingFetch(
  options: Required<
    Pick<PlangateOptions, 'timeoutMs' | 'retries' | 'maxRetryDelayMs' | 'baseRetryDelayMs'>
  > & {
    fetch: typeof globalThis.fetch
  },
): (request: Request) => Promise<Response> {
  return async (request) => {
    const attempts = isRetryable(request) ? 1 + options.retries : 1
    // Keep a pristine copy: a Request body can be read once, and every attempt sends it again.
    const original = request.clone()
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts
      const signal = attemptSignal(original.signal, options.timeoutMs)
      let response: Response
      try {
        response = await options.fetch(new Request(original.clone(), { signal }))
      } catch (error) {
        // The caller's own abort is final; a timeout or a network error may be retried.
        if (last || original.signal.aborted) throw error
        await sleep(backoff(attempt, undefined, options), original.signal)
        continue
      }
      if (last || !isRetryableStatus(response)) return response
      const wait = backoff(attempt, retryAfterMs(response.headers.get('retry-after')), options)
      await response.body?.cancel()
      await sleep(wait, original.signal)
    }
  }
}

function backoff(
  attempt: number,
  retryAfter: number | undefined,
  options: { maxRetryDelayMs: number; baseRetryDelayMs: number },
): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, options.maxRetryDelayMs)
  const ceiling = Math.min(options.baseRetryDelayMs * 2 ** (attempt - 1), options.maxRetryDelayMs)
  return ceiling / 2 + Math.random() * (ceiling / 2)
}

/**
 * Sets the bearer and, for a POST or PATCH, the Idempotency-Key that makes it retryable: on an
 * operation that honours one (`takesIdempotencyKey`), the caller's or else a fresh UUID, once per
 * call so every retry reuses it; on any other, none (a key the caller gave is dropped, as the server
 * would ignore it), so it is sent once.
 */
export function plangateMiddleware(credential: string | undefined): Middleware {
  return {
    onRequest({ request, schemaPath }) {
      if (credential && !request.headers.has('authorization')) {
        request.headers.set('authorization', `Bearer ${credential}`)
      }
      if (request.method === 'POST' || request.method === 'PATCH') {
        if (!takesIdempotencyKey(request.method, schemaPath)) request.headers.delete('idempotency-key')
        else if (!request.headers.has('idempotency-key'))
          request.headers.set('idempotency-key', crypto.randomUUID())
      }
      return request
    },
  }
}

/**
 * The typed client. `pg.GET('/v1/plans')` and friends are openapi-fetch's methods, returning
 * `{ data, error, response }`; `unwrap` turns that into data or a thrown `PlangateError`.
 */
export function createPlangate(options: PlangateOptions): Plangate {
  if (options.apiKey && options.token) throw new TypeError('give apiKey or token, not both')
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    fetch: retryingFetch({
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 2,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      baseRetryDelayMs: options.baseRetryDelayMs ?? 250,
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    }),
  })
  client.use(plangateMiddleware(options.apiKey ?? options.token))
  return client
}
