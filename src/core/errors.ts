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
  /**
   * The usage API was asked to change a feature that is not metered through it: a resource-backed
   * feature (counted from the service's own rows, e.g. `staff`) or a plan flag. Carries `feature`.
   */
  feature_not_metered: { status: 400, title: 'Feature not metered' },
  /**
   * Usage history was asked of a feature that is not counted per period: a count limit (e.g.
   * `staff`, a live count whose figure is in the entitlements) or a plan flag. Carries `feature`.
   */
  no_usage_history: { status: 400, title: 'No usage history' },
  /** No such resource, or one the caller may not know exists. */
  not_found: { status: 404, title: 'Not found' },
  /** A feature key that no plan names (as a limit or a flag) and the service does not declare. Carries `feature`. */
  unknown_feature: { status: 404, title: 'Unknown feature' },
  /**
   * A webhook URL that may not be registered: a literal loopback, private, link-local or other
   * internal address, `localhost`, or plain http in production (WEBHOOK_ALLOW_PRIVATE_URLS lifts it).
   */
  url_not_allowed: { status: 400, title: 'URL not allowed' },
  /** The action needs a verified email address (accepting an invitation). */
  email_not_verified: { status: 403, title: 'Email not verified' },
  /** The invitation was sent to another email address than the signed-in user's. */
  invitation_email_mismatch: { status: 403, title: 'Invitation is for another email' },
  /** No invitation has this token (never issued, or replaced by a newer invitation). */
  invitation_not_found: { status: 404, title: 'Invitation not found' },
  /** The request conflicts with the current state (duplicate, live subscription, reused key). */
  conflict: { status: 409, title: 'Conflict' },
  /** The user is already a member of the account (inviting them, or accepting an invitation). */
  already_member: { status: 409, title: 'Already a member' },
  /** The invitation's 7 days have passed; ask for a new one. */
  invitation_expired: { status: 410, title: 'Invitation expired' },
  /** The invitation was revoked by the account. */
  invitation_revoked: { status: 410, title: 'Invitation revoked' },
  /** The invitation was already accepted (each works once). */
  invitation_used: { status: 410, title: 'Invitation already used' },
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
  /**
   * Overloaded, not down: no pooled database connection became free within
   * DATABASE_ACQUIRE_TIMEOUT_MS (or the server refused more connections). Carries Retry-After.
   */
  service_busy: { status: 503, title: 'Service busy', retryAfterSeconds: 2 },
  /** The database (or another dependency) is unreachable; retry later. */
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string; retryAfterSeconds?: number }>

/** The Retry-After (seconds) a code's responses carry, if it has one. */
export function retryAfterFor(code: ErrorCode): number | undefined {
  const entry = errorCodes[code]
  return 'retryAfterSeconds' in entry ? entry.retryAfterSeconds : undefined
}

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
const unavailableStates = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08006'])
// The server is up but has no connection slot left (too_many_connections): overload, not an outage.
const busyStates = new Set(['53300'])
const unavailableErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND'])
// Driver messages for a pool or embedded database that is gone or shutting down. pg's "Connection
// terminated due to connection timeout" (a new connection could not be opened in time) is one.
const unavailableMessages = /Connection terminated|Cannot use a pool after calling end|PGlite is closed/i
// pg-pool's message when every pooled connection stayed busy for connectionTimeoutMillis: the request
// waited in the pool's queue and no connection came free. The database is fine; we are overloaded.
const acquireTimeoutMessage = /^timeout exceeded when trying to connect$/i
// A pseudo-SQLSTATE for pg-pool's acquire timeout, which carries no code of its own.
const poolAcquireTimeout = 'POOL_ACQUIRE_TIMEOUT'

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
  if (code === poolAcquireTimeout || busyStates.has(code)) {
    return new AppError('service_busy', 'The service is busy; retry shortly')
  }
  if (unavailableStates.has(code) || unavailableErrnos.has(code) || unavailableMessages.test(message)) {
    return new AppError('service_unavailable', 'The database is unavailable; retry later')
  }
  return undefined
}

function findDatabaseCause(error: unknown): { code: string; message: string } | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (acquireTimeoutMessage.test(current.message))
      return { code: poolAcquireTimeout, message: current.message }
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

/**
 * The name of the unique constraint (or unique index) a database error violated, or undefined when
 * the error is not a unique violation (23505). Lets a module turn its own duplicate into a precise
 * 409 while every other one keeps the generic answer of `fromDatabaseError`.
 */
export function uniqueViolation(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { code, constraint } = current as { code?: unknown; constraint?: unknown }
    if (code === '23505') {
      if (typeof constraint === 'string') return constraint
      return /unique constraint "([^"]+)"/.exec(current.message)?.[1]
    }
    current = current.cause
  }
  return undefined
}
