// One error class and one table of codes; everything a client sees as an error is RFC 9457
// problem+json built from here, with a `code` that never changes meaning.

export const errorCodes = {
  /** The request does not match the route's schema, or a value is semantically invalid. */
  validation_failed: { status: 400, title: 'Validation failed' },
  /** No credentials, or credentials that are invalid, expired or revoked. */
  unauthorized: { status: 401, title: 'Unauthorized' },
  /** Authenticated, but the role or flag the action needs is missing (or a password check failed). */
  forbidden: { status: 403, title: 'Forbidden' },
  /** The account has no subscription that grants access right now. */
  subscription_required: { status: 403, title: 'Subscription required' },
  /** The plan's limit for a feature is reached; carries `feature`, `limit` and `used`. */
  limit_exceeded: { status: 403, title: 'Limit exceeded' },
  /** No such resource, or one the caller may not know exists. */
  not_found: { status: 404, title: 'Not found' },
  /** The request conflicts with the current state (duplicate, live subscription, reused key). */
  conflict: { status: 409, title: 'Conflict' },
  /** The first request with this Idempotency-Key is still running; carries Retry-After. */
  idempotency_in_progress: { status: 409, title: 'Idempotency key in use' },
  /** The body is larger than BODY_LIMIT_BYTES. */
  payload_too_large: { status: 413, title: 'Payload too large' },
  /** The Content-Type is not one the route accepts. */
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  /** Too many requests; carries Retry-After and RateLimit-* headers. */
  rate_limited: { status: 429, title: 'Too many requests' },
  /** A bug: logged with the request id, never with details for the client. */
  internal_error: { status: 500, title: 'Internal server error' },
  /** A payment or sign-in provider failed or timed out; its own message is not passed on. */
  provider_unavailable: { status: 503, title: 'Provider unavailable' },
  /** The database (or another dependency) is unreachable; retry later. */
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>

export type ErrorCode = keyof typeof errorCodes

export interface FieldError {
  /** Where the problem is: `body.email`, `query.date`, `params.accountId`, `header.idempotency-key`. */
  location: string
  message: string
}

export class AppError extends Error {
  readonly status: number
  /** Seconds after which a retry may succeed, sent as the Retry-After header. */
  retryAfter?: number
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail ?? errorCodes[code].title)
    this.name = 'AppError'
    this.status = errorCodes[code].status
  }
}

/** The error with a Retry-After (whole seconds, at least 1). */
export function retryAfter(error: AppError, seconds: number): AppError {
  error.retryAfter = Math.max(1, Math.ceil(seconds))
  return error
}

export const notFound = (what = 'Resource') => new AppError('not_found', `${what} not found`)

export function limitExceeded(feature: string, limit: number, used: number): AppError {
  return new AppError('limit_exceeded', `The plan allows ${limit} ${feature}; ${used} already used`, {
    feature,
    limit,
    used,
  })
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  instance?: string
  errors?: FieldError[]
  [key: string]: unknown
}

export function problemFor(code: ErrorCode, detail?: string, extra: Record<string, unknown> = {}): Problem {
  const { status, title } = errorCodes[code]
  return { type: `urn:plangate:problem:${code}`, title, status, detail: detail ?? title, code, ...extra }
}

// SQLSTATEs caused by a value the client sent: check violation, malformed or out-of-range input,
// and characters the database cannot store (22021: a NUL byte in a name).
const validationStates = new Set(['23514', '22P02', '22007', '22008', '22003', '22021', '22P05'])

// SQLSTATE classes that mean "the database is not there right now" rather than "bad request".
const unavailableStates = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006'])
const unavailableErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'])
// Driver messages for a pool or embedded database that is gone or shutting down.
const unavailableMessages =
  /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end|PGlite is closed/i

/** Maps a database driver error to an AppError, or returns undefined when it is not one we expect. */
export function fromDatabaseError(error: unknown): AppError | undefined {
  const candidate = findDatabaseCause(error)
  if (!candidate) return undefined
  const { code, message } = candidate
  if (code === '23505') return new AppError('conflict', 'A resource with these values already exists')
  if (code === '23503') {
    return new AppError('conflict', 'A referenced resource does not exist or is still in use')
  }
  if (validationStates.has(code)) {
    return new AppError('validation_failed', 'A value is out of range or malformed')
  }
  if (code === '22023' && /time zone/i.test(message)) {
    return new AppError('validation_failed', 'Unknown time zone')
  }
  if (code === '40001' || code === '40P01' || code === '55P03') {
    return new AppError('conflict', 'The request conflicted with a concurrent change; retry it')
  }
  if (code === '57014') return new AppError('service_unavailable', 'The database took too long to answer')
  if (unavailableStates.has(code) || unavailableErrnos.has(code) || unavailableMessages.test(message)) {
    return new AppError('service_unavailable', 'The database is unavailable; retry later')
  }
  return undefined
}

function findDatabaseCause(error: unknown): { code: string; message: string } | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || unavailableErrnos.has(code))) {
      return { code, message: current.message }
    }
    if (unavailableMessages.test(current.message)) {
      return { code: '08006', message: current.message }
    }
    current = current.cause
  }
  return undefined
}
