// Stripe's wire format: form-encoded bodies with `a[b][0][c]` keys, JSON answers, the
// `{ error: { type, message, code } }` failure shape, Idempotency-Key replay, and the HTTP server
// that speaks it. What the endpoints do is elsewhere (endpoints.ts, state.ts); the faults a test
// injects come in through `Faults` (controls.ts).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Stripe from 'stripe'
import { type Metadata, randomId, type StripeEvent } from './objects.ts'

export interface FakeStripeRequest {
  method: string
  path: string
  idempotencyKey?: string
  /** The form body of a POST, the query of other methods, decoded into nested objects and arrays. */
  body: Record<string, unknown>
}

export type Param = string | Param[] | Params
export interface Params {
  [key: string]: Param
}

export const isParams = (value: Param | undefined): value is Params =>
  typeof value === 'object' && !Array.isArray(value)

/** Decodes `a[b][0][c]=v` pairs into nested objects; objects keyed 0..n-1 become arrays. */
export function parseStripeForm(text: string): Params {
  const root: Params = {}
  for (const [key, value] of new URLSearchParams(text)) {
    const path = key.replace(/\]/g, '').split('[')
    const last = path.pop() ?? ''
    let node = root
    for (const segment of path) {
      const next = node[segment]
      if (!isParams(next)) node[segment] = {}
      node = node[segment] as Params
    }
    node[last] = value
  }
  const arrays = (value: Param): Param => {
    if (!isParams(value)) return value
    const keys = Object.keys(value)
    const converted = Object.fromEntries(keys.map((key) => [key, arrays(value[key] as Param)]))
    const indexed = keys.length > 0 && keys.every((key, i) => key === String(i))
    return indexed ? Object.values(converted) : converted
  }
  return arrays(root) as Params
}

export const str = (params: Params, key: string): string | undefined => {
  const value = params[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}
export const int = (params: Params, key: string): number | undefined => {
  const value = str(params, key)
  return value === undefined ? undefined : Number.parseInt(value, 10)
}
export const bool = (params: Params, key: string): boolean | undefined => {
  const value = str(params, key)
  return value === undefined ? undefined : value === 'true'
}
export const dict = (params: Params, key: string): Params => {
  const value = params[key]
  return isParams(value) ? value : {}
}
export const first = (params: Params, key: string): Params => {
  const value = params[key]
  return Array.isArray(value) && isParams(value[0]) ? value[0] : {}
}

/** Stripe's metadata update: keys set to '' are removed, `metadata=` clears all. */
export function mergeMetadata(current: Metadata, param: Param | undefined): Metadata {
  if (param === undefined) return current
  if (!isParams(param)) return {}
  const merged = { ...current }
  for (const [key, value] of Object.entries(param)) {
    if (value === '') delete merged[key]
    else if (typeof value === 'string') merged[key] = value
  }
  return merged
}

/** An error Stripe would answer with; `type` and the status pick the error class the SDK raises. */
export class StripeFailure extends Error {
  constructor(
    readonly status: number,
    readonly type: 'invalid_request_error' | 'card_error' | 'idempotency_error' | 'api_error',
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message)
  }

  toJSON() {
    return { error: { type: this.type, message: this.message, code: this.code, param: this.param } }
  }
}

export const missing = (noun: string, id: string, param = 'id') =>
  new StripeFailure(404, 'invalid_request_error', `No such ${noun}: '${id}'`, 'resource_missing', param)
export const invalid = (message: string, param?: string) =>
  new StripeFailure(400, 'invalid_request_error', message, undefined, param)

/** A status and a JSON body, as an endpoint answers. */
export type Answer = { status: number; body: string }

type Handler = (params: Params, id: string) => unknown
/** An endpoint: method, path (its one group is the object id) and what it does. */
export type Route = [method: string, path: RegExp, handler: Handler]

/** Runs the matching endpoint; Stripe's refusals become their status and error body. */
export function dispatch(routes: Route[], method: string, path: string, params: Params): Answer {
  for (const [routeMethod, pattern, handler] of routes) {
    const match = routeMethod === method ? pattern.exec(path) : null
    if (!match) continue
    try {
      return { status: 200, body: JSON.stringify(handler(params, decodeURIComponent(match[1] ?? ''))) }
    } catch (error) {
      if (!(error instanceof StripeFailure)) throw error
      return { status: error.status, body: JSON.stringify(error) }
    }
  }
  return { status: 404, body: JSON.stringify(invalid(`Unrecognized request URL (${method}: ${path}).`)) }
}

/** The faults a test has asked for (see controls.ts), as the server consults them per request. */
export interface Faults {
  /** During an outage, how long a request hangs before its 503; null when Stripe is up. */
  outage(): { hangMs: number } | null
  /** The failure planned for the next request to `METHOD /path`, if any (and counts it). */
  take(route: string): { status: number; hangMs?: number } | undefined
  /** Waits `ms`, or less if the test releases the hanging requests. */
  hang(ms: number): Promise<void>
}

export interface WireServer {
  url: string
  close(): Promise<void>
}

/**
 * The HTTP server: checks the secret key, applies the faults, replays idempotent POSTs, logs each
 * request to `requests` and hands the decoded parameters to `run` (with the request's id and key,
 * which the events it causes carry).
 */
export async function serveWire(options: {
  secretKey: string
  requests: FakeStripeRequest[]
  faults: Faults
  run: (method: string, path: string, params: Params, request: StripeEvent['request']) => Answer
}): Promise<WireServer> {
  const { secretKey, requests, faults, run } = options
  const idempotent = new Map<string, { fingerprint: string; status: number; body: string }>()

  /** Like Stripe: a key seen before replays the first answer, and refuses different parameters. */
  function answerOnce(key: string | undefined, fingerprint: string, work: () => Answer) {
    const seen = key ? idempotent.get(key) : undefined
    if (seen && seen.fingerprint !== fingerprint) {
      const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`
      return {
        replayed: false,
        status: 400,
        body: JSON.stringify(new StripeFailure(400, 'idempotency_error', message)),
      }
    }
    if (seen) return { replayed: true, ...seen }
    const answer = work()
    if (key) idempotent.set(key, { fingerprint, ...answer })
    return { replayed: false, ...answer }
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const target = new URL(req.url ?? '/', 'http://fake')
    const method = req.method ?? 'GET'
    const path = target.pathname
    const params = parseStripeForm(method === 'POST' ? raw : target.search.slice(1))
    const header = req.headers['idempotency-key']
    const idempotencyKey = typeof header === 'string' ? header : undefined
    requests.push({ method, path, ...(idempotencyKey && { idempotencyKey }), body: params })
    const requestId = randomId('req', 14)
    const send = (status: number, body: string, extra: Record<string, string> = {}) => {
      if (res.destroyed || res.writableEnded) return
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': requestId,
        'stripe-version': Stripe.API_VERSION,
        ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
        ...extra,
      })
      res.end(body)
    }

    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      return send(
        401,
        JSON.stringify(new StripeFailure(401, 'invalid_request_error', 'Invalid API Key provided.')),
      )
    }
    const outage = faults.outage()
    if (outage) {
      await faults.hang(outage.hangMs)
      return send(503, JSON.stringify(new StripeFailure(503, 'api_error', 'Fake Stripe is down')))
    }
    const failure = faults.take(`${method} ${path}`)
    if (failure && failure.hangMs === undefined) {
      return send(
        failure.status,
        JSON.stringify(new StripeFailure(failure.status, 'api_error', 'Fake Stripe failure')),
      )
    }
    const key = method === 'POST' ? idempotencyKey : undefined
    const answer = answerOnce(key, `${method} ${path} ${raw}`, () =>
      run(method, path, params, { id: requestId, idempotency_key: idempotencyKey ?? null }),
    )
    // The work is done and stored for replay; only the answer is late.
    if (failure?.hangMs !== undefined) await faults.hang(failure.hangMs)
    send(answer.status, answer.body, answer.replayed ? { 'idempotent-replayed': 'true' } : {})
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const failure = new StripeFailure(500, 'api_error', `Fake Stripe crashed: ${String(error)}`)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify(failure))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
}
