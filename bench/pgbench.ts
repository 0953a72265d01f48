// The ceiling: the very statement the service runs for a booking creation, the service's own
// `createBookingStatements` (rendered once, as the service runs it), run by pgbench straight against
// PostgreSQL. One script per seeded account (account and user ids inlined as literals, as they
// exist in the bench database); pgbench picks a script at random per transaction, and each
// transaction picks a day the same way the HTTP scenario does.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bookingValues, createBookingStatements } from '../src/modules/bookings/bookings.ts'
import { BenchError, baseDayMs, busyDayShare, spreadDays } from './config.ts'
import type { SeededUser } from './seed.ts'

/** An SQL literal for a parameter pgbench does not vary. */
function literal(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'boolean') return String(value)
  if (typeof value === 'string') {
    // pgbench reads `:name` as a variable even inside quotes (see the time handling below).
    if (value.includes(':')) throw new Error(`cannot inline a parameter containing ':' for pgbench: ${value}`)
    return `'${value.replaceAll("'", "''")}'`
  }
  throw new Error(`cannot inline parameter ${String(value)} for pgbench`)
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The booking-creation statement with its slots filled: account and user ids as literals,
 * `gen_random_uuid()` for the new booking, the start as base day + `:day`, `now` as a fixed instant.
 */
export function bookingStatementFor(
  now: Date,
): (accountId: string, userId: string, sessionId: string) => string {
  // The statement a signed-in user's request runs.
  const statement = createBookingStatements.user
  // The values of the other slots: a booking as the HTTP scenario sends it.
  const values: Record<string, unknown> = bookingValues(
    '',
    { customer_name: 'pgbench customer', starts_at: '', duration_minutes: 60, staff_id: null },
    now,
    '',
  )
  return (accountId, userId, sessionId) => {
    if (![accountId, userId, sessionId].every((id) => uuidPattern.test(id)))
      throw new Error('ids must be uuids')
    return statement.text.replace(/\$(\d+)/g, (_match, position: string) => {
      const param = statement.params[Number(position) - 1]
      if (!param) throw new Error(`no parameter $${position}`)
      if ('fixed' in param) return literal(param.fixed)
      switch (param.slot) {
        case 'accountId':
          return `'${accountId}'`
        case 'userId':
          return `'${userId}'`
        case 'sessionId':
          return `'${sessionId}'`
        case 'bookingId':
          return 'gen_random_uuid()'
        case 'startsAt':
          return `(to_timestamp(${baseDayMs / 1000}) + make_interval(days => (:day)::int))`
        // Timestamps are written without ':' so pgbench does not take them for variables.
        case 'now':
          return `to_timestamp(${now.getTime() / 1000})`
        default:
          return literal(values[param.slot])
      }
    })
  }
}

/** The same day choice as the HTTP scenario (config.randomBookingDay), in pgbench's language. */
const daySetting = `\\set day case when random(1, 1000) <= ${Math.round(busyDayShare * 1000)} then 0 else random(1, ${spreadDays}) end`

export interface PgbenchResult {
  mode: PgbenchMode
  clients: number
  threads: number
  durationSeconds: number
  transactions: number
  failed: number
  tps: number
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number }
  scripts: number
  command: string
}

/**
 * `prepared`: parsed and planned once per connection (the ceiling). `extended`: parsed and planned
 * on every execution, as the service's driver sends it (unnamed statements).
 */
export type PgbenchMode = 'prepared' | 'extended'

export interface PgbenchOptions {
  mode: PgbenchMode
  databaseUrl: string
  users: SeededUser[]
  clients: number
  threads: number
  durationSeconds: number
  now: Date
  /** Called with the child process so the caller can stop it on SIGINT. */
  onSpawn?: (child: ReturnType<typeof spawn>) => void
}

function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))
  return sorted[index] ?? 0
}

/** pgbench's per-transaction logs: `client tx latency_us script epoch us …`, one file per thread. */
async function latenciesFrom(folder: string): Promise<Float64Array> {
  const values: number[] = []
  for (const name of await readdir(folder)) {
    if (!name.startsWith('pgbench_log')) continue
    const text = await readFile(join(folder, name), 'utf8')
    for (const line of text.split('\n')) {
      const field = line.split(' ')[2]
      if (field !== undefined && field !== '') values.push(Number(field) / 1000)
    }
  }
  return Float64Array.from(values).sort()
}

function number(output: string, pattern: RegExp): number {
  const match = pattern.exec(output)
  return match?.[1] === undefined ? Number.NaN : Number(match[1])
}

export async function runPgbench(options: PgbenchOptions): Promise<PgbenchResult> {
  const folder = await mkdtemp(join(tmpdir(), 'plangate-pgbench-'))
  try {
    const statementFor = bookingStatementFor(options.now)
    const scripts: string[] = []
    for (const [index, user] of options.users.entries()) {
      const file = join(folder, `account-${index + 1}.sql`)
      await writeFile(file, `${daySetting}\n${statementFor(user.accountId, user.userId, user.sessionId)};\n`)
      scripts.push('-f', file)
    }
    const args = [
      '-n',
      '-M',
      options.mode,
      '-c',
      String(options.clients),
      '-j',
      String(options.threads),
      '-T',
      String(options.durationSeconds),
      '-l',
      `--log-prefix=${join(folder, 'pgbench_log')}`,
      ...scripts,
      options.databaseUrl,
    ]
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('pgbench', args, { stdio: ['ignore', 'pipe', 'pipe'] })
      options.onSpawn?.(child)
      let text = ''
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      child.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString()
      })
      child.on('error', (error) =>
        reject(new BenchError(`could not run pgbench (${error.message}); is it installed and on PATH?`)),
      )
      child.on('exit', (code) => {
        if (code === 0) resolve(text)
        else reject(new BenchError(`pgbench exited with ${code}:\n${text.slice(-4000)}`))
      })
    })
    const latencies = await latenciesFrom(folder)
    let sum = 0
    for (const value of latencies) sum += value
    return {
      mode: options.mode,
      clients: options.clients,
      threads: options.threads,
      durationSeconds: options.durationSeconds,
      transactions: number(output, /number of transactions actually processed: (\d+)/),
      failed: number(output, /number of failed transactions: (\d+)/) || 0,
      tps: number(output, /tps = ([\d.]+) \(without initial connection time\)/),
      latencyMs: {
        mean: latencies.length > 0 ? sum / latencies.length : Number.NaN,
        p50: percentile(latencies, 0.5),
        p90: percentile(latencies, 0.9),
        p99: percentile(latencies, 0.99),
        max: latencies.length > 0 ? (latencies[latencies.length - 1] ?? 0) : 0,
      },
      scripts: options.users.length,
      command: `pgbench -n -M ${options.mode} -c ${options.clients} -j ${options.threads} -T ${options.durationSeconds} -f account-<i>.sql … (${options.users.length} scripts)`,
    }
  } finally {
    await rm(folder, { recursive: true, force: true })
  }
}

/** The rendered statement for one account, for docs and debugging (`npm run bench -- --print-sql`). */
export function sampleStatement(
  now: Date,
  user: Pick<SeededUser, 'accountId' | 'userId' | 'sessionId'>,
): string {
  return `${daySetting}\n${bookingStatementFor(now)(user.accountId, user.userId, user.sessionId)};`
}
