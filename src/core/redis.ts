// The Redis connection behind the shared rate limits (REDIS_URL). Redis must never make a request
// wait or fail: while it is down a command fails at once (no offline queue, no retry), while it is
// slow it fails after `commandTimeoutMs`, and the client reconnects by itself with a capped backoff.
// Its users report each failed command here; an outage is logged once, when it begins, and again
// only after Redis has answered in between.
import { once } from 'node:events'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'

/** Short enough that a request never waits long on Redis; long enough for a network hop. */
export const redisTimeouts = { connectMs: 500, commandMs: 250, maxReconnectDelayMs: 2_000 } as const

export type RedisHealth = 'ok' | 'degraded'

export interface SharedRedis {
  readonly client: Redis
  /** `degraded` from a lost connection or a failed command until Redis answers again. */
  health(): RedisHealth
  /** Commands that failed since start (the metric `plangate_rate_limit_store_errors_total`). */
  readonly failures: number
  /** A command failed: counted, and the first failure of an outage is logged. */
  failed(error: unknown): void
  /** A command succeeded: an outage seen only through failed commands (Redis slow) is over. */
  succeeded(): void
  close(): Promise<void>
}

/**
 * Connects to `url` and waits at most `connectMs` for the first connection: an unreachable Redis
 * is logged and the process starts anyway (requests are served without rate limits until it
 * answers).
 */
export async function connectRedis(url: string, log: Logger): Promise<SharedRedis> {
  const client = new Redis(url, {
    connectTimeout: redisTimeouts.connectMs,
    commandTimeout: redisTimeouts.commandMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, redisTimeouts.maxReconnectDelayMs),
  })
  let failures = 0
  let outage = false
  let closing = false
  const target = redisAddress(url)

  const begin = (error: unknown) => {
    if (outage || closing) return
    outage = true
    log.warn(
      { err: error, redis: target },
      'Redis unreachable: requests are served without rate limits until it answers again',
    )
  }
  const end = () => {
    if (!outage || closing) return
    outage = false
    log.info({ redis: target }, 'Redis answers again: rate limits are shared again')
  }

  // Without an `error` listener ioredis prints every failed reconnection attempt to stderr.
  client.on('error', begin)
  client.on('end', () => begin(new Error('connection ended')))
  client.on('ready', end)
  await once(client, 'ready', { signal: AbortSignal.timeout(redisTimeouts.connectMs) }).catch(begin)

  return {
    client,
    health: () => (client.status === 'ready' && !outage ? 'ok' : 'degraded'),
    get failures() {
      return failures
    },
    failed(error) {
      failures++
      begin(error)
    },
    succeeded: end,
    async close() {
      if (closing) return
      closing = true
      // QUIT waits for the answer; a Redis that is down gets the socket closed instead.
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    },
  }
}

/** host:port of a Redis URL, for log lines (never its password). */
function redisAddress(url: string): string {
  const { hostname, port } = new URL(url)
  return `${hostname}:${port || '6379'}`
}
