// The typed HTTP client of the tests: openapi-fetch over the types generated from the route schemas
// (packages/sdk/src/schema.d.ts, `npm run types`), sending through `app.inject` instead of a socket.
// Request bodies, parameters and answers are typed by path and method, so a test never re-declares
// a response shape; tests that assert raw HTTP (headers, bad input) keep using `app.inject`.
import type { FastifyInstance } from 'fastify'
import createClient, { type Client } from 'openapi-fetch'
import type { paths } from '../../packages/sdk/src/schema.d.ts'

/** The API's paths and their operations, as generated from the OpenAPI document. */
export type { components, operations, paths } from '../../packages/sdk/src/schema.d.ts'

export interface TestClient extends Client<paths> {
  /** The same client, sending `Authorization: Bearer <token>` on every request. */
  withToken(token: string): TestClient
}

/** Statuses whose Response must not have a body (the Fetch standard refuses one). */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304])

/**
 * A `fetch` that hands the Request to `app.inject` and turns the reply into a Response: method,
 * path and query, headers and body in; status, every header (each `set-cookie` kept apart) and the
 * raw body out.
 */
export function injectFetch(app: Pick<FastifyInstance, 'inject'>) {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const payload = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    const reply = await app.inject({
      method: request.method as 'GET',
      url: `${url.pathname}${url.search}`,
      headers: Object.fromEntries(request.headers),
      ...(payload && { payload }),
    })
    const headers = new Headers()
    for (const [name, value] of Object.entries(reply.headers)) {
      if (value === undefined) continue
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, String(item))
    }
    const body = nullBodyStatuses.has(reply.statusCode) ? null : reply.rawPayload
    const response = new Response(body, {
      status: reply.statusCode,
      statusText: reply.statusMessage,
      headers,
    })
    // A constructed Response has no URL; name the request, as a fetched one would.
    Object.defineProperty(response, 'url', { value: request.url })
    return response
  }
}

/** A typed client of `app`, with no credentials unless `token` is given (see `withToken`). */
export function testClient(app: Pick<FastifyInstance, 'inject'>, token?: string): TestClient {
  const client = createClient<paths>({
    baseUrl: 'http://plangate.test',
    fetch: injectFetch(app),
    ...(token && { headers: { authorization: `Bearer ${token}` } }),
  })
  return Object.assign(client, { withToken: (next: string) => testClient(app, next) })
}

/** What every openapi-fetch call resolves to: data on a 2xx, the parsed error body otherwise. */
type Result<T> = { data?: T; error?: unknown; response: Response }

/**
 * The data of a call that must succeed (with `status`, when given); otherwise throws with the
 * request, the status and the problem, so a failing setup step says why.
 */
export async function expectData<T>(call: Promise<Result<T>>, status?: number): Promise<T> {
  const { data, error, response } = await call
  if (error !== undefined || (status !== undefined && response.status !== status)) {
    const detail = typeof error === 'string' ? error : JSON.stringify(error ?? data)
    throw new Error(`${response.url} answered ${response.status}: ${detail}`)
  }
  return data as T
}
