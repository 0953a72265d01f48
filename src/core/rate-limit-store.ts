// @fastify/rate-limit's own Redis store (its Lua script: INCR and PEXPIRE in one call), wrapped
// so that every call that fails is reported to the connection (counted, an outage logged once) and
// every limit counts under a namespace of its own. The plugin builds one store from this class for
// its global limit and a child for each route config and each `createRateLimit`; with
// `skipOnError` it serves a request whose store call failed as if it were under the limit.
import { createRequire } from 'node:module'
import type { FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { SharedRedis } from './redis.ts'

type Counted = { current: number; ttl: number }
type Callback = (error: Error | null, result?: Counted) => void

interface Store {
  incr(key: string, callback: Callback, timeWindow: number, max: number): void
  read(key: string, callback: Callback, timeWindow: number, max: number): void
}

/** The plugin's store; its file has no type declarations of its own. */
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: SharedRedis['client'],
  key: string,
) => Store

/**
 * What the plugin hands a store: its own options for the global store, or, for a child, a route's
 * (or a `createRateLimit` call's) merged with them. `nameSpace` is ours: the limit's name.
 */
export interface StoreOptions {
  continueExceeding?: boolean
  exponentialBackoff?: boolean
  routeInfo?: { method?: string | string[]; url?: string }
  nameSpace?: string
}

/** The common prefix of every rate-limit key in Redis. */
export const rateLimitKeyPrefix = 'plangate:rl:'

/**
 * The store class to give @fastify/rate-limit (`store`). Keys are
 * `plangate:rl:global:<key>` for the global limit, `plangate:rl:<name>:<METHOD> <url>:<key>` for a
 * route's own limit and `plangate:rl:<name>:<key>` for a `createRateLimit` limiter, `<name>` being
 * the options' `nameSpace` (`route` or `limiter` without one), so no two limits share a counter.
 */
export function sharedRateLimitStore(redis: SharedRedis): FastifyRateLimitStoreCtor {
  class SharedRateLimitStore {
    readonly #store: Store

    constructor(options: StoreOptions, nameSpace = `${rateLimitKeyPrefix}global:`) {
      this.#store = new RedisStore(
        options.continueExceeding ?? false,
        options.exponentialBackoff ?? false,
        redis.client,
        nameSpace,
      )
    }

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.#store.incr(key, observed(callback), timeWindow, max)
    }

    read(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.#store.read(key, observed(callback), timeWindow, max)
    }

    child(options: StoreOptions): SharedRateLimitStore {
      const { method, url } = options.routeInfo ?? {}
      const route = url === undefined ? '' : `${[method ?? ''].flat().join(',')} ${url}:`
      const name = options.nameSpace ?? (url === undefined ? 'limiter' : 'route')
      return new SharedRateLimitStore(options, `${rateLimitKeyPrefix}${name}:${route}`)
    }
  }

  const observed =
    (callback: Callback): Callback =>
    (error, result) => {
      if (error) redis.failed(error)
      else redis.succeeded()
      callback(error, result)
    }

  // The plugin's declarations type `child`'s argument as the route's options; it is given the
  // merged limit options (StoreOptions), as its own stores read them.
  return SharedRateLimitStore as unknown as FastifyRateLimitStoreCtor
}
