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

export interface BenchResults {
  date: string
  conditions: Record<string, string | number | boolean>
  prefill: { bookings: number; seconds: number } | null
  busyDayFill: LoadResult
  bookingCreate: LoadResult
  entitlementRead: LoadResult
  health: LoadResult
  pgbench: PgbenchSummary | null
  /** The same statement parsed and planned on every execution, as the service sends it. */
  pgbenchExtended: PgbenchSummary | null
  ratio: number | null
  checks: { busyDaysFull: string; overLimitDays: number; counterMismatches: number }
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
// autocannon records whole milliseconds; pgbench's log has microseconds.
const ms = (value: number) => `${fixed(value, Number.isInteger(value) ? 0 : value < 10 ? 2 : 1)} ms`

function verdict(ok: boolean): string {
  return ok ? 'meets' : 'misses'
}

export function resultTable(results: BenchResults): string {
  const { bookingCreate: create, entitlementRead: read, health, pgbench, ratio } = results
  const p99Note = (p99: number) => `p99 ${verdict(p99 < targets.p99Ms)} < ${targets.p99Ms} ms`
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
      'GET entitlements (HTTP)',
      fixed(read.requestsPerSecond),
      ms(read.latencyMs.p50),
      ms(read.latencyMs.p99),
      `≥ ${targets.entitlementReadsPerSecond} req/s`,
      `${verdict(read.requestsPerSecond >= targets.entitlementReadsPerSecond)} ≥ ${targets.entitlementReadsPerSecond}; ${p99Note(read.latencyMs.p99)}`,
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
    `entitlement reads: ${results.entitlementRead.requests} requests (${statusSummary(results.entitlementRead)})${cpu(results.entitlementRead)}`,
    `health: ${results.health.requests} requests (${statusSummary(results.health)})${cpu(results.health)}`,
  ]
  for (const result of [results.bookingCreate, results.entitlementRead, results.health]) {
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
