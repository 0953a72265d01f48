// The only place that reads process.env: every setting is parsed, defaulted and validated here,
// and a bad environment stops the process with every problem listed at once.
import { createPrivateKey } from 'node:crypto'
import { z } from 'zod'

/** Parses "900", "900s", "15m", "12h", "30d" into seconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim())
  if (!match) return undefined
  const amount = Number(match[1])
  const unit = match[2] ?? 's'
  const factor = { s: 1, m: 60, h: 3600, d: 86400 }[unit as 's' | 'm' | 'h' | 'd']
  return amount * factor
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const seconds = parseDuration(value)
      if (seconds === undefined || seconds <= 0) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 900, 15m, 12h or 30d' })
        return z.NEVER
      }
      return seconds
    })

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))

const url = (protocols: string[]) =>
  optionalString.refine(
    (value) => {
      if (value === undefined) return true
      try {
        return protocols.includes(new URL(value).protocol)
      } catch {
        return false
      }
    },
    { message: `expected a URL (${protocols.join(' or ')})` },
  )

const httpUrl = (fallback: string) => url(['http:', 'https:']).transform((value) => value ?? fallback)

const limitPerMinute = (fallback: number) => z.coerce.number().int().min(0).default(fallback)

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .optional()
  .transform((value) => (value === undefined ? undefined : ['true', '1', 'yes'].includes(value)))

/** The minimum length of every password (registration, reset, change, ADMIN_PASSWORD): one number. */
const passwordMinLengthDefault = 10
const passwordMinLength = z.coerce.number().int().min(8).max(128).default(passwordMinLengthDefault)

export const ConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  /** How long a request waits for a pooled PostgreSQL connection before a 503 `service_busy`. */
  DATABASE_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
  /** How long start-up keeps retrying a PostgreSQL that cannot be reached yet (0: one attempt). */
  DATABASE_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: url(['redis:', 'rediss:']),
  SMTP_URL: url(['smtp:', 'smtps:']),
  MAIL_FROM: z.string().min(3).default('plangate <no-reply@localhost>'),
  /** Unset: the address actually served, from HOST and PORT (see appUrlFor). */
  APP_URL: url(['http:', 'https:']),
  ADMIN_EMAIL: optionalString.pipe(z.email().optional()),
  ADMIN_PASSWORD: optionalString,
  JWT_PRIVATE_KEY: optionalString.superRefine((pem, ctx) => {
    const problem = pem === undefined ? undefined : privateKeyProblem(pem)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }),
  ACCESS_TOKEN_TTL: duration('15m'),
  REFRESH_TOKEN_TTL: duration('30d'),
  SESSION_MAX_AGE: duration('90d'),
  /**
   * Seconds after its rotation during which a refresh token presented again gets a new sibling pair
   * in the same family instead of revoking it (several tabs refreshing at once); `0` turns it off.
   */
  REFRESH_REUSE_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(60).default(10),
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  STRIPE_API_URL: url(['http:', 'https:']),
  /** How long one Stripe call may take, and how many times a failed one is retried (same idempotency key). */
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(5).default(2),
  /**
   * Total time an interactive Stripe call (a customer's request) may take, retries included;
   * background jobs use STRIPE_TIMEOUT_MS × (1 + STRIPE_MAX_NETWORK_RETRIES) instead.
   */
  STRIPE_INTERACTIVE_BUDGET_MS: z.coerce.number().int().min(100).max(60_000).default(8_000),
  /** Interactive Stripe calls in flight at once per instance; more are answered 503 at once. */
  STRIPE_MAX_CONCURRENT_CALLS: z.coerce.number().int().min(1).max(1000).default(10),
  /** Failures or timeouts within STRIPE_BREAKER_WINDOW_MS that open the Stripe circuit breaker. */
  STRIPE_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  STRIPE_BREAKER_WINDOW_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** How long an open breaker answers at once before one probe call goes through. */
  STRIPE_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  /** An interrupted Stripe operation (crash between the call and its write) is finished after this long. */
  STRIPE_INTENT_STALE_MS: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
  /** Where Checkout and the Customer Portal send the customer back to (default: APP_URL). */
  BILLING_RETURN_URL: url(['http:', 'https:']),
  /** Seconds a Stripe webhook signature stays valid (Stripe's default tolerance is 300). */
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GITHUB_CLIENT_ID: optionalString,
  GITHUB_CLIENT_SECRET: optionalString,
  // Provider endpoints; the defaults are the real ones (tests point them at a local fake).
  GOOGLE_AUTHORIZATION_URL: httpUrl('https://accounts.google.com/o/oauth2/v2/auth'),
  GOOGLE_TOKEN_URL: httpUrl('https://oauth2.googleapis.com/token'),
  GOOGLE_USERINFO_URL: httpUrl('https://openidconnect.googleapis.com/v1/userinfo'),
  GITHUB_AUTHORIZATION_URL: httpUrl('https://github.com/login/oauth/authorize'),
  GITHUB_TOKEN_URL: httpUrl('https://github.com/login/oauth/access_token'),
  GITHUB_API_URL: httpUrl('https://api.github.com'),
  /** Where the browser goes after a successful OAuth sign-in; unset: the callback answers JSON tokens. */
  OAUTH_SUCCESS_URL: url(['http:', 'https:']),
  /** How long one call to an OAuth provider (token exchange, profile) may take before a 503. */
  OAUTH_TIMEOUT_MS: z.coerce.number().int().min(1).max(120_000).default(10_000),
  CORS_ORIGINS: optionalString.transform((value) =>
    value
      ? value
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean)
      : [],
  ),
  /** Bearer token Prometheus sends to scrape /metrics; unset: /metrics answers 404 (see docs/decisions.md). */
  METRICS_TOKEN: optionalString.pipe(z.string().min(16, 'at least 16 characters').optional()),
  /** `plangate worker` serves GET /metrics (METRICS_TOKEN) on HOST at this port; unset: it serves nothing. */
  WORKER_METRICS_PORT: optionalString
    .transform((value) => (value === undefined ? undefined : Number(value)))
    .pipe(z.number().int().min(0).max(65535).optional()),
  RATE_LIMIT_PER_MINUTE: limitPerMinute(100),
  AUTH_RATE_LIMIT_PER_MINUTE: limitPerMinute(10),
  /**
   * Refreshes per minute of one sign-in (a refresh token that belongs to one): every page load of
   * the web UI refreshes once. Tokens that belong to none keep AUTH_RATE_LIMIT_PER_MINUTE per IP.
   */
  REFRESH_RATE_LIMIT_PER_MINUTE: limitPerMinute(60),
  /** Requests per minute from one client IP to the auth routes together, whatever the identifiers. */
  AUTH_IP_RATE_LIMIT_PER_MINUTE: limitPerMinute(20),
  TRUST_PROXY: optionalString,
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(100 * 1024),
  COOKIE_SECURE: bool,
  /** Run job workers inside the API process (the embedded default); `false` leaves them to `plangate worker`. */
  JOBS_IN_PROCESS: bool.transform((value) => value ?? true),
  /** How long a `past_due` subscription keeps access after a failed payment. */
  GRACE_PERIOD_DAYS: z.coerce.number().int().min(0).max(90).default(7),
  /** How many days before a trial ends its reminder email goes out. */
  TRIAL_REMINDER_DAYS: z.coerce.number().int().min(0).max(30).default(3),
  /** Seconds before the first retry of a failed webhook delivery, doubled each time; `0` retries at once (tests). */
  WEBHOOK_RETRY_DELAY_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
  /** How long one webhook delivery (DNS, connect, and the response's status line) may take; at most 30 s. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
  /** Consecutive failed deliveries to one endpoint that open its circuit breaker. */
  WEBHOOK_BREAKER_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /** How long an open endpoint breaker waits before it lets one probe delivery through. */
  WEBHOOK_BREAKER_COOLDOWN_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000),
  /**
   * Lets webhook endpoints be on loopback, private, link-local or other internal addresses, and use
   * plain http in production. For development and tests only: it turns deliveries into a way to
   * reach the internal network.
   */
  WEBHOOK_ALLOW_PRIVATE_URLS: bool.transform((value) => value ?? false),
  PASSWORD_MIN_LENGTH: passwordMinLength,
  /**
   * argon2id parameters of new password hashes: `owasp` (19 MiB, 2 passes) or `test`, the cheapest
   * argon2id allows, for test suites only (refused when NODE_ENV=production).
   */
  PASSWORD_HASH_COST: z.enum(['owasp', 'test']).default('owasp'),
})

/** The PEM as the token module reads it: `\\n` escapes (one-line env files) become newlines. */
const pemFromEnv = (value: string) => value.replace(/\\n/g, '\n')

/** Why JWT_PRIVATE_KEY cannot be used as a private key, or undefined when it can. */
function privateKeyProblem(value: string): string | undefined {
  const pem = pemFromEnv(value)
  if (!pem.includes('-----BEGIN')) return 'expected a PEM private key (-----BEGIN PRIVATE KEY----- …)'
  try {
    createPrivateKey(pem)
    return undefined
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : 'unreadable'
    return `not a readable PEM private key (${reason})`
  }
}

/**
 * The public URL when APP_URL is unset: the host and port actually served. A wildcard bind
 * address (0.0.0.0, ::) is reached as localhost; an IPv6 address is bracketed.
 */
export function appUrlFor(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]'
  const name = wildcard ? 'localhost' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${name}:${port}`
}

/**
 * Rules across variables, checked on the raw environment so they are reported together with the
 * per-variable problems (a failed object schema would skip its refinements).
 */
function crossFieldProblems(env: Record<string, string | undefined>): string[] {
  const set = (name: string) => (env[name] ?? '').trim() !== ''
  const problems: string[] = []
  if (set('ADMIN_PASSWORD') && !set('ADMIN_EMAIL'))
    problems.push('ADMIN_EMAIL: required when ADMIN_PASSWORD is set')
  // The same minimum as every other password (PASSWORD_MIN_LENGTH), so there is one number.
  const minLength = passwordMinLength.safeParse(env.PASSWORD_MIN_LENGTH).data ?? passwordMinLengthDefault
  if (set('ADMIN_PASSWORD') && (env.ADMIN_PASSWORD ?? '').length < minLength) {
    problems.push(`ADMIN_PASSWORD: must be at least ${minLength} characters (PASSWORD_MIN_LENGTH)`)
  }
  if (env.NODE_ENV === 'production') {
    // A production service must not guess its public address, nor keep its signing key only in
    // the database it signs for.
    if (!set('APP_URL'))
      problems.push('APP_URL: required when NODE_ENV=production (the public URL of this service)')
    if (!set('JWT_PRIVATE_KEY'))
      problems.push(
        'JWT_PRIVATE_KEY: required when NODE_ENV=production (a PEM private key that signs access tokens)',
      )
    // Cheap hashes make stolen password hashes cheap to crack: a test setting only.
    if ((env.PASSWORD_HASH_COST ?? '').trim() === 'test')
      problems.push('PASSWORD_HASH_COST: `test` is refused when NODE_ENV=production (use owasp)')
  }
  if (!set('APP_URL') && (env.PORT ?? '').trim() === '0') {
    problems.push('APP_URL: required when PORT is 0 (the port is only known after start)')
  }
  if (set('STRIPE_SECRET_KEY') !== set('STRIPE_WEBHOOK_SECRET')) {
    const missing = set('STRIPE_SECRET_KEY') ? 'STRIPE_WEBHOOK_SECRET' : 'STRIPE_SECRET_KEY'
    problems.push(`${missing}: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET go together`)
  }
  return problems
}

export type Config = Omit<z.output<typeof ConfigSchema>, 'APP_URL'> & {
  /** The public URL: APP_URL, or the address served (HOST and PORT). */
  APP_URL: string
  /** Cookies get the Secure attribute (default: in production). */
  cookieSecure: boolean
  /** Fastify's trustProxy value derived from TRUST_PROXY. */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean)
}

/** Turns TRUST_PROXY ("true", a hop count, or a list of addresses/CIDRs) into Fastify's option. */
function trustProxyOption(value: string | undefined): Config['trustProxy'] {
  if (value === undefined || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    // A hop count: trust that many proxies in front of us.
    const hops = Number(value)
    return (_address, hop) => hop < hops
  }
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
}

/** Every problem of the environment, one line each, starting with the variable's name. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'))
  }
}

/** Parses an environment (process.env by default) into a Config, or throws a ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = ConfigSchema.safeParse(env)
  const problems = [
    ...(result.error?.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`) ??
      []),
    ...crossFieldProblems(env),
  ]
  if (!result.success || problems.length > 0) throw new ConfigError(problems)
  const parsed = result.data
  return {
    ...parsed,
    APP_URL: parsed.APP_URL ?? appUrlFor(parsed.HOST, parsed.PORT),
    cookieSecure: parsed.COOKIE_SECURE ?? parsed.NODE_ENV === 'production',
    trustProxy: trustProxyOption(parsed.TRUST_PROXY),
  }
}
