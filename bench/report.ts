// The printed table (each figure next to its target or ceiling) and the JSON results file.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LoadResult } from './load.ts'
import type { PgbenchResult } from './pgbench.ts'

/** PRODUCT.md §8. */
export const targets = {
  /** A limited create costs at most 2× the same SQL run directly: req/s ÷ pgbench TPS ≥ 0.5. */
  createToCeilingRatio: 0.5,
  entitlementReadsPerSecond: 5_000,
  p99Ms: 25,
}

export type PgbenchSummary = PgbenchResult & { admitted: number; refused: number }

/** The run with an API key against the same run with a token (null where a figure is missing). */
export interface KeyToToken {
  /** Key req/s ÷ token req/s: 1 is the same throughput, below 1 the key is slower. */
  requestsPerSecond: number | null
  /** Key service CPU per request ÷ token's: above 1 the key costs more. */
  cpuPerRequest: number | null
}

export function keyToToken(key: LoadResult, token: LoadResult): KeyToToken {
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) ? a / b : null
  return {
    requestsPerSecond: ratio(key.requestsPerSecond, token.requestsPerSecond),
    cpuPerRequest: ratio(key.serviceCpu?.msPerRequest, token.serviceCpu?.msPerRequest),
  }
}

export interface BenchResults {
  date: string
  conditions: Record<string, string | number | boolean>
  prefill: { bookings: number; seconds: number } | null
  busyDayFill: LoadResult
  bookingCreate: LoadResult
  /** The same creates as `bookingCreate` (on days of their own), sent with each account's API key. */
  bookingCreateKey: LoadResult
  entitlementRead: LoadResult
  /** The same reads as `entitlementRead`, sent with each account's API key. */
  entitlementReadKey: LoadResult
  /** `POST /v1/accounts/:id/check` of `bookings_per_day`, with the owner's token. */
  check: LoadResult
  health: LoadResult
  pgbench: PgbenchSummary | null
  /** The same statement parsed and planned on every execution, as the service sends it. */
  pgbenchExtended: PgbenchSummary | null
  ratio: number | null
  keyToToken: { create: KeyToToken; read: KeyToToken }
  checks: { busyDaysFull: string; overLimitDays: number; counterMismatches: number }
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
// autocannon records whole milliseconds; pgbench's log has microseconds.
const ms = (value: number) => `${fixed(value, Number.isInteger(value) ? 0 : value < 10 ? 2 : 1)} ms`

function verdict(ok: boolean): string {
  return ok ? 'meets' : 'misses'
}

/** `0.97 req/s, 1.04 CPU/request`: the key's figures over the token's. */
function keyRatioFigures(ratio: KeyToToken): string {
  const parts = [
    ratio.requestsPerSecond === null ? null : `${ratio.requestsPerSecond.toFixed(2)} req/s`,
    ratio.cpuPerRequest === null ? null : `${ratio.cpuPerRequest.toFixed(2)} CPU/request`,
  ].filter((part) => part !== null)
  return parts.length > 0 ? parts.join(', ') : 'n/a'
}

export function resultTable(results: BenchResults): string {
  const { bookingCreate: create, entitlementRead: read, health, pgbench, ratio } = results
  const { bookingCreateKey: createKey, entitlementReadKey: readKey, check } = results
  const p99Note = (p99: number) => `p99 ${verdict(p99 < targets.p99Ms)} < ${targets.p99Ms} ms`
  const readsNote = (result: LoadResult) =>
    `${verdict(result.requestsPerSecond >= targets.entitlementReadsPerSecond)} ≥ ${targets.entitlementReadsPerSecond}; ${p99Note(result.latencyMs.p99)}`
  const rows: string[][] = [
    ['scenario', 'req/s (TPS)', 'p50', 'p99', 'target / ceiling', 'ratio / verdict'],
    [
      'POST bookings (limited create, HTTP)',
      fixed(create.requestsPerSecond),
      ms(create.latencyMs.p50),
      ms(create.latencyMs.p99),
      pgbench ? `≥ ${targets.createToCeilingRatio} × ${fixed(pgbench.tps)} TPS` : 'pgbench skipped',
      ratio === null
        ? p99Note(create.latencyMs.p99)
        : `${ratio.toFixed(2)}, ${verdict(ratio >= targets.createToCeilingRatio)} ≥ ${targets.createToCeilingRatio}; ${p99Note(create.latencyMs.p99)}`,
    ],
    [
      'POST bookings with an API key',
      fixed(createKey.requestsPerSecond),
      ms(createKey.latencyMs.p50),
      ms(createKey.latencyMs.p99),
      'the same as with a token',
      `key ÷ token: ${keyRatioFigures(results.keyToToken.create)}; ${p99Note(createKey.latencyMs.p99)}`,
    ],
    [
      'GET entitlements (HTTP)',
      fixed(read.requestsPerSecond),
      ms(read.latencyMs.p50),
      ms(read.latencyMs.p99),
      `≥ ${targets.entitlementReadsPerSecond} req/s`,
      readsNote(read),
    ],
    [
      'GET entitlements with an API key',
      fixed(readKey.requestsPerSecond),
      ms(readKey.latencyMs.p50),
      ms(readKey.latencyMs.p99),
      'the same as with a token',
      `key ÷ token: ${keyRatioFigures(results.keyToToken.read)}; ${p99Note(readKey.latencyMs.p99)}`,
    ],
    [
      'POST check bookings_per_day (HTTP)',
      fixed(check.requestsPerSecond),
      ms(check.latencyMs.p50),
      ms(check.latencyMs.p99),
      `≥ ${targets.entitlementReadsPerSecond} req/s`,
      readsNote(check),
    ],
    [
      'GET /health (HTTP floor)',
      fixed(health.requestsPerSecond),
      ms(health.latencyMs.p50),
      ms(health.latencyMs.p99),
      'none (stack without work)',
      '',
    ],
  ]
  if (pgbench) {
    rows.push([
      `pgbench -M prepared, same SQL (${pgbench.clients} clients)`,
      fixed(pgbench.tps),
      ms(pgbench.latencyMs.p50),
      ms(pgbench.latencyMs.p99),
      'the ceiling',
      '',
    ])
  }
  const extended = results.pgbenchExtended
  if (extended) {
    rows.push([
      `pgbench -M extended (planned each time)`,
      fixed(extended.tps),
      ms(extended.latencyMs.p50),
      ms(extended.latencyMs.p99),
      'reference',
      `create ÷ this: ${(create.requestsPerSecond / extended.tps).toFixed(2)}`,
    ])
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join(' | ')
      .trimEnd()
  const [header, ...body] = rows
  return [line(header ?? []), widths.map((width) => '-'.repeat(width)).join('-|-'), ...body.map(line)].join(
    '\n',
  )
}

const statusSummary = (result: LoadResult) =>
  Object.entries(result.statusCounts)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ')

export function detailLines(results: BenchResults): string[] {
  const cpu = (result: LoadResult) =>
    result.serviceCpu
      ? `; service CPU ${result.serviceCpu.msPerRequest.toFixed(3)} ms/request, ${result.serviceCpu.cores.toFixed(2)} cores busy`
      : ''
  const lines = [
    `booking creates: ${results.bookingCreate.requests} requests (${statusSummary(results.bookingCreate)}); 201 = admitted, 403 = day full (limit_exceeded)${cpu(results.bookingCreate)}`,
    `booking creates with an API key: ${results.bookingCreateKey.requests} requests (${statusSummary(results.bookingCreateKey)})${cpu(results.bookingCreateKey)}`,
    `entitlement reads: ${results.entitlementRead.requests} requests (${statusSummary(results.entitlementRead)})${cpu(results.entitlementRead)}`,
    `entitlement reads with an API key: ${results.entitlementReadKey.requests} requests (${statusSummary(results.entitlementReadKey)})${cpu(results.entitlementReadKey)}`,
    `checks: ${results.check.requests} requests (${statusSummary(results.check)})${cpu(results.check)}`,
    `health: ${results.health.requests} requests (${statusSummary(results.health)})${cpu(results.health)}`,
    `API key ÷ token: creates ${keyRatioFigures(results.keyToToken.create)}; reads ${keyRatioFigures(results.keyToToken.read)}`,
  ]
  const loads = [
    results.bookingCreate,
    results.bookingCreateKey,
    results.entitlementRead,
    results.entitlementReadKey,
    results.check,
    results.health,
  ]
  for (const result of loads) {
    if (result.errors > 0 || result.timeouts > 0) {
      lines.push(`${result.scenario}: ${result.errors} connection errors, ${result.timeouts} timeouts`)
    }
  }
  for (const pgbench of [results.pgbench, results.pgbenchExtended]) {
    if (!pgbench) continue
    lines.push(
      `pgbench -M ${pgbench.mode}: ${pgbench.transactions} transactions (${pgbench.admitted} admitted, ${pgbench.refused} refused, ${pgbench.failed} failed)`,
    )
  }
  lines.push(
    `busy days full before the measured run: ${results.checks.busyDaysFull}; days over the limit afterwards: ${results.checks.overLimitDays}; counters disagreeing with rows: ${results.checks.counterMismatches}`,
  )
  return lines
}

export async function writeResults(folder: string, results: BenchResults): Promise<string> {
  await mkdir(folder, { recursive: true })
  const file = join(folder, `${results.date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`)
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`)
  return file
}
