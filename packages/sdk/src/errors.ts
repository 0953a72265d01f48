// Errors as values a caller can branch on: every non-2xx answer of plangate is problem+json with a
// stable `code` (see the Problem schema), and `unwrap` turns openapi-fetch's `{ data, error }`
// into the data or a thrown PlangateError.
import type { ClientPathsWithMethod, FetchOptions } from 'openapi-fetch'
import type { Plangate } from './client.ts'
import type { components, paths } from './schema.d.ts'

export type Problem = components['schemas']['Problem']
/** A problem `code`; a string, so codes added by a newer server still type-check. */
export type ProblemCode = Problem['code'] | (string & {})

export class PlangateError extends Error {
  override readonly name = 'PlangateError'
  /** The HTTP status (0 when the answer was not a problem, e.g. a proxy's HTML page). */
  readonly status: number
  readonly code: ProblemCode
  /** The problem+json body as sent (or one made up from the status when the body was not one). */
  readonly problem: Problem
  /** The response, for its headers (Retry-After, RateLimit-*). */
  readonly response: Response | undefined

  constructor(problem: Problem, response?: Response) {
    super(problem.detail || problem.title)
    this.status = problem.status
    this.code = problem.code
    this.problem = problem
    this.response = response
  }
}

const isProblem = (body: unknown): body is Problem =>
  typeof body === 'object' &&
  body !== null &&
  typeof (body as Problem).code === 'string' &&
  typeof (body as Problem).status === 'number'

/** The error for a failed answer; a body that is not a problem becomes one with code `http_<status>`. */
export function toPlangateError(error: unknown, response: Response): PlangateError {
  if (isProblem(error)) return new PlangateError(error, response)
  const title = response.statusText || `HTTP ${response.status}`
  return new PlangateError(
    {
      type: 'about:blank',
      title,
      status: response.status,
      detail: typeof error === 'string' && error ? error.slice(0, 500) : title,
      code: `http_${response.status}` as Problem['code'],
    },
    response,
  )
}

/** `data` of a successful call, or a thrown PlangateError: `const plans = unwrap(await pg.GET('/v1/plans'))`. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T
  throw toPlangateError(result.error, result.response)
}

type GetPath = ClientPathsWithMethod<Plangate, 'get'>
type Page<I> = { data: I[]; next_cursor: string | null }
type JsonOf<P extends GetPath> = paths[P]['get'] extends {
  responses: { 200: { content: { 'application/json': infer B } } }
}
  ? B
  : never
/** The GET paths that answer a page (`{ data, next_cursor }`). */
export type ListPath = { [P in GetPath]: JsonOf<P> extends Page<unknown> ? P : never }[GetPath]
/** The item type of a list path's pages. */
export type ListItem<P extends ListPath> = JsonOf<P> extends Page<infer I> ? I : never

/**
 * Every item of a paginated list, page after page (following `next_cursor` as `cursor`):
 * `for await (const plan of paginate(pg, '/v1/plans', { params: { query: { limit: 100 } } }))`.
 * A failed page throws PlangateError.
 */
export async function* paginate<P extends ListPath>(
  pg: Plangate,
  path: P,
  init: FetchOptions<paths[P]['get']> = {} as FetchOptions<paths[P]['get']>,
): AsyncGenerator<ListItem<P>, void, undefined> {
  const base = init as { params?: { query?: Record<string, unknown> } }
  const get = pg.GET as unknown as (
    path: string,
    init: unknown,
  ) => Promise<{ data?: Page<ListItem<P>>; error?: unknown; response: Response }>
  let cursor: string | undefined
  do {
    const query = { ...base.params?.query, ...(cursor !== undefined && { cursor }) }
    const page = unwrap(await get(path, { ...init, params: { ...base.params, query } }))
    yield* page.data
    cursor = page.next_cursor ?? undefined
  } while (cursor !== undefined)
}
