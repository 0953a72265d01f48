// HTTP load with autocannon, in this process; the service runs in its own process.
import { loadavg } from 'node:os'
import autocannon from 'autocannon'
import { bookingDays, bookingsPerDay, randomBookingDay, startsAtOf } from './config.ts'
import type { SeededUser } from './seed.ts'

export interface LoadResult {
  scenario: string
  connections: number
  durationSeconds: number
  requests: number
  requestsPerSecond: number
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number }
  statusCounts: Record<string, number>
  non2xx: number
  errors: number
  timeouts: number
  /** The machine's 1-minute load average when the run ended (the machine is shared). */
  loadAverage1mAfter: number
  /** Service process CPU during the run (null where /proc is missing): cores kept busy, ms per request. */
  serviceCpu: { cores: number; msPerRequest: number } | null
}

type Request = autocannon.Request

const json = { 'content-type': 'application/json' }

/** What a request is sent with: the owner's access token, or the account's API key. */
export type Credential = 'token' | 'key'

const bearer = (user: SeededUser, credential: Credential) =>
  `Bearer ${credential === 'key' ? user.apiKey : user.token}`

function bookingRequest(user: SeededUser, day: number, request: Request, credential: Credential): Request {
  return {
    ...request,
    method: 'POST',
    path: `/v1/accounts/${user.accountId}/bookings`,
    headers: { ...request.headers, ...json, authorization: bearer(user, credential) },
    body: JSON.stringify({
      customer_name: 'Bench customer',
      starts_at: startsAtOf(day),
      duration_minutes: 60,
    }),
  }
}

function pick<T>(items: T[], index: number): T {
  const item = items[index % items.length]
  if (item === undefined) throw new Error('nothing to pick from')
  return item
}

/**
 * Limited creates: a random account, on the busy (full) day 10% of the time, else a random day of
 * the `spreadDays` from `firstDay` (each run its own, see config.bookingDays).
 */
export function bookingRequests(
  users: SeededUser[],
  credential: Credential = 'token',
  firstDay: number = bookingDays.token,
): Request[] {
  return [
    {
      setupRequest: (request) =>
        bookingRequest(
          pick(users, Math.floor(Math.random() * users.length)),
          randomBookingDay(firstDay),
          request,
          credential,
        ),
    },
  ]
}

/** Fills every account's busy day (day 0) to the limit: exactly `limit` requests per account. */
export function busyDayFillRequests(users: SeededUser[]): { requests: Request[]; amount: number } {
  let sent = 0
  return {
    amount: users.length * bookingsPerDay,
    requests: [{ setupRequest: (request) => bookingRequest(pick(users, sent++), 0, request, 'token') }],
  }
}

/** Entitlement reads, rotating over the accounts (each with its owner's token or its key). */
export function entitlementRequests(users: SeededUser[], credential: Credential = 'token'): Request[] {
  let sent = 0
  return [
    {
      setupRequest: (request) => {
        const user = pick(users, sent++)
        return {
          ...request,
          method: 'GET',
          path: `/v1/accounts/${user.accountId}/entitlements`,
          headers: { ...request.headers, authorization: bearer(user, credential) },
        }
      },
    },
  ]
}

/** Checks of `bookings_per_day` (today, quantity 1; nothing written), rotating over the accounts. */
export function checkRequests(users: SeededUser[], credential: Credential = 'token'): Request[] {
  let sent = 0
  const body = JSON.stringify({ feature: 'bookings_per_day' })
  return [
    {
      setupRequest: (request) => {
        const user = pick(users, sent++)
        return {
          ...request,
          method: 'POST',
          path: `/v1/accounts/${user.accountId}/check`,
          headers: { ...request.headers, ...json, authorization: bearer(user, credential) },
          body,
        }
      },
    },
  ]
}

export const healthRequests: Request[] = [{ method: 'GET', path: '/health' }]

export interface LoadOptions {
  baseUrl: string
  connections: number
  requests: Request[]
  /** Seconds; ignored when `amount` is set. */
  duration?: number
  amount?: number
}

export async function runLoad(scenario: string, options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.baseUrl,
    connections: options.connections,
    ...(options.amount === undefined ? { duration: options.duration ?? 10 } : { amount: options.amount }),
    requests: options.requests,
  })
  const statusCounts: Record<string, number> = {}
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCounts[status] = stats.count ?? 0
  }
  return {
    scenario,
    connections: options.connections,
    durationSeconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    latencyMs: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    statusCounts,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    loadAverage1mAfter: Number(loadavg()[0]?.toFixed(2) ?? 0),
    serviceCpu: null,
  }
}
