// The benchmark's settings, all from the environment (see docs/benchmarks.md).

/** A failure the user can act on: printed without a stack trace, exit code 1. */
export class BenchError extends Error {}

export const benchDatabaseName = 'plangate_bench'
export const benchPlanCode = 'bench'
export const bookingsPerDay = 50

/**
 * Bookings start at 12:00 UTC on `baseDay` plus a day offset. Day 0 is each account's "busy day":
 * it is filled to the limit before the measured run, so requests landing on it are refused (403).
 */
export const baseDayMs = Date.UTC(2030, 0, 1, 12, 0, 0)
export const busyDayShare = 0.1
export const spreadDays = 730

export interface BenchConfig {
  adminUrl: string
  benchUrl: string
  durationSeconds: number
  warmupSeconds: number
  connections: number
  poolSize: number
  users: number
  pgbenchClients: number
  pgbenchThreads: number
  prefill: number
  /** Also run pgbench -M extended (parse and plan per execution, as the service's driver does). */
  pgbenchExtended: boolean
  /** Extra `node` arguments for the service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
  serviceNodeArgs: string[]
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BenchError(`${name} must be an integer between ${min} and ${max} (got "${raw}")`)
  }
  return value
}

/** The admin URL with its database swapped for the bench database. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl)
  url.pathname = `/${database}`
  return url.toString()
}

/** The URL without its password, for printing. */
export function redactUrl(value: string): string {
  const url = new URL(value)
  if (url.password) url.password = '***'
  return url.toString()
}

export function loadBenchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const adminUrl =
    env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'
  try {
    const protocol = new URL(adminUrl).protocol
    if (protocol !== 'postgres:' && protocol !== 'postgresql:') throw new Error(protocol)
  } catch {
    throw new BenchError('BENCH_DATABASE_URL / TEST_DATABASE_URL must be a postgres:// URL')
  }
  return {
    adminUrl,
    benchUrl: databaseUrl(adminUrl, benchDatabaseName),
    durationSeconds: intFrom(env, 'BENCH_DURATION', 10, 1, 3600),
    warmupSeconds: intFrom(env, 'BENCH_WARMUP', 2, 0, 600),
    connections: intFrom(env, 'BENCH_CONNECTIONS', 50, 1, 1000),
    poolSize: intFrom(env, 'BENCH_POOL_SIZE', 20, 1, 500),
    // pgbench takes at most 128 scripts, one per account (see pgbench.ts).
    users: intFrom(env, 'BENCH_USERS', 100, 1, 128),
    pgbenchClients: intFrom(env, 'BENCH_PGBENCH_CLIENTS', 16, 1, 1000),
    pgbenchThreads: intFrom(env, 'BENCH_PGBENCH_THREADS', 2, 1, 64),
    prefill: intFrom(env, 'BENCH_PREFILL', 0, 0, 100_000_000),
    pgbenchExtended: env.BENCH_PGBENCH_EXTENDED !== '0',
    serviceNodeArgs: (env.BENCH_SERVICE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  }
}

/** The start of a booking `day` days after the base day, as the API takes it. */
export function startsAtOf(day: number): string {
  return new Date(baseDayMs + day * 86_400_000).toISOString()
}

/**
 * The first of the `spreadDays` days each create run's admitted requests land on. Each run has
 * days of its own, so it starts on empty days whatever ran before it: the same share refused (the
 * busy day, shared and full) and the same counter inserts against updates in every run. The token
 * run's days are pgbench's too (see pgbench.ts).
 */
export const bookingDays = {
  token: 1,
  key: 1 + spreadDays,
  keyWarmup: 1 + 2 * spreadDays,
} as const

/** A day for one limited create: the busy (full) day 10% of the time, else one of two years. */
export function randomBookingDay(firstDay: number = bookingDays.token): number {
  return Math.random() < busyDayShare ? 0 : firstDay + Math.floor(Math.random() * spreadDays)
}
