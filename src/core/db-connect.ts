// The first connection to PostgreSQL at start-up: retried with backoff while the server cannot be
// reached yet (it may be starting beside us, as in compose), for a bounded time; refused logins
// and missing databases end at once, since waiting does not fix them. Every failure is one line
// naming DATABASE_URL, with the address but never the password.
import pg from 'pg'
import { StartupError } from './startup.ts'

interface Target {
  address: string
  user: string
  database: string
}

function targetOf(url: string): Target {
  const parsed = new URL(url)
  const host = parsed.hostname || 'localhost'
  return {
    address: `${host}:${parsed.port || '5432'}`,
    user: decodeURIComponent(parsed.username) || 'postgres',
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username),
  }
}

// Network errors and server states that may clear up by themselves.
const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P03', // the database system is starting up
  '53300', // too many connections
])

function codeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') return code
  // Several addresses for one host name: Node reports an AggregateError of the attempts.
  if (error instanceof AggregateError) return codeOf(error.errors[0])
  return undefined
}

function isTransient(error: unknown): boolean {
  const code = codeOf(error)
  if (code !== undefined) return transientCodes.has(code)
  // pg's own connect timeout, or the server closing the socket during start-up.
  return error instanceof Error && /timeout|terminated|closed/i.test(error.message)
}

/** One line for the operator: what failed, where, and what to do. */
export function describeConnectError(url: string, error: unknown): string {
  const target = targetOf(url)
  const code = codeOf(error)
  const serverMessage = error instanceof Error ? error.message : String(error)
  switch (code) {
    case '28P01':
      return `DATABASE_URL: password authentication failed for user "${target.user}" at ${target.address}`
    case '28000':
      return `DATABASE_URL: PostgreSQL at ${target.address} refused user "${target.user}": ${serverMessage}`
    case '3D000':
      return `DATABASE_URL: database "${target.database}" does not exist at ${target.address} (create it first, e.g. createdb "${target.database}")`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `DATABASE_URL: host of ${target.address} not found (${code})`
  }
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    return `DATABASE_URL: PostgreSQL at ${target.address} refused the connection: ${serverMessage} (${code})`
  }
  if (/password/i.test(serverMessage)) {
    return `DATABASE_URL: PostgreSQL at ${target.address} asks for a password for user "${target.user}"; put it in the URL`
  }
  return `DATABASE_URL: cannot reach PostgreSQL at ${target.address} (${code ?? serverMessage})`
}

export interface ConnectOptions {
  /** How long to keep retrying an unreachable server; 0 tries once. */
  timeoutSeconds: number
  /** Told about each failed attempt that will be retried. */
  onRetry?: (message: string, delayMs: number) => void
}

/**
 * Resolves once PostgreSQL at `url` accepts a connection and answers a query; otherwise throws a
 * StartupError with one line naming DATABASE_URL.
 */
export async function waitForPostgres(url: string, options: ConnectOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutSeconds * 1000
  let delayMs = 250
  for (;;) {
    const remaining = deadline - Date.now()
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: Math.max(1_000, Math.min(5_000, remaining)),
    })
    // An error emitted after connect failed must not become an unhandled 'error' event.
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.query('select 1')
      return
    } catch (error) {
      const message = describeConnectError(url, error)
      if (!isTransient(error)) throw new StartupError(message)
      if (Date.now() + delayMs > deadline) {
        const waited =
          options.timeoutSeconds > 0
            ? `; gave up after ${options.timeoutSeconds} s (DATABASE_CONNECT_TIMEOUT_SECONDS)`
            : ''
        throw new StartupError(`${message}${waited}`)
      }
      options.onRetry?.(message, delayMs)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      delayMs = Math.min(delayMs * 2, 5_000)
    } finally {
      await client.end().catch(() => undefined)
    }
  }
}
