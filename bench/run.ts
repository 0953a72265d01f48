// `npm run bench`: plangate's hot paths under load, each figure next to its target (PRODUCT.md §8)
// or its ceiling (the same SQL through pgbench). Prints figures; never fails on them. Exits 1 only
// on errors (PostgreSQL unreachable, the service not starting, seeding failing, pgbench failing).
// See docs/benchmarks.md.
import type { ChildProcess } from 'node:child_process'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchConfig, BenchError, bookingDays, loadBenchConfig, redactUrl } from './config.ts'
import { cpuSeconds } from './cpu.ts'
import {
  busyDayFull,
  countBookings,
  integrityProblems,
  prefillHistory,
  recreateBenchDatabase,
  withClient,
  writeBenchAccounts,
} from './database.ts'
import {
  bookingRequests,
  busyDayFillRequests,
  checkRequests,
  entitlementRequests,
  healthRequests,
  type LoadOptions,
  type LoadResult,
  runLoad,
} from './load.ts'
import { type PgbenchMode, runPgbench, sampleStatement } from './pgbench.ts'
import {
  type BenchResults,
  detailLines,
  keyToToken,
  type PgbenchSummary,
  resultTable,
  writeResults,
} from './report.ts'
import { type SeededUser, seedThroughApi } from './seed.ts'
import { startService, stopProcess } from './service.ts'

const benchFolder = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(benchFolder, '..')

/** Child processes to stop on SIGINT / SIGTERM or an error. */
const children = new Set<ChildProcess>()

const say = (message: string) => process.stdout.write(`${message}\n`)

function describe(result: LoadResult): string {
  const statuses = Object.entries(result.statusCounts)
    .map(([status, count]) => `${status}×${count}`)
    .join(' ')
  const cpu = result.serviceCpu
    ? `; service CPU ${result.serviceCpu.cores.toFixed(2)} cores, ${result.serviceCpu.msPerRequest.toFixed(3)} ms/request`
    : ''
  return `${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms [${statuses}]; load average ${result.loadAverage1mAfter}${cpu}`
}

async function measured(
  config: BenchConfig,
  servicePid: number | undefined,
  scenario: string,
  options: Omit<LoadOptions, 'connections' | 'duration'>,
  warmup: LoadOptions['requests'] | null,
): Promise<LoadResult> {
  if (warmup && config.warmupSeconds > 0) {
    await runLoad(`${scenario} (warm-up)`, {
      ...options,
      requests: warmup,
      connections: config.connections,
      duration: config.warmupSeconds,
    })
  }
  say(`- ${scenario}: ${config.durationSeconds} s at ${config.connections} connections…`)
  const cpuBefore = await cpuSeconds(servicePid)
  const result = await runLoad(scenario, {
    ...options,
    connections: config.connections,
    duration: config.durationSeconds,
  })
  const cpuAfter = await cpuSeconds(servicePid)
  if (cpuBefore !== null && cpuAfter !== null && result.requests > 0) {
    const used = cpuAfter - cpuBefore
    result.serviceCpu = {
      cores: used / result.durationSeconds,
      msPerRequest: (used * 1000) / result.requests,
    }
  }
  say(`  ${describe(result)}`)
  return result
}

/** pgbench on the booking statement; admitted = bookings it added, the rest were refused. */
async function ceiling(config: BenchConfig, users: SeededUser[], mode: PgbenchMode): Promise<PgbenchSummary> {
  say(
    `- pgbench -M ${mode}, the same statement: ${config.durationSeconds} s, ${config.pgbenchClients} clients, ${config.pgbenchThreads} threads…`,
  )
  const before = await withClient(config.benchUrl, countBookings)
  const run = await runPgbench({
    mode,
    databaseUrl: config.benchUrl,
    users,
    clients: config.pgbenchClients,
    threads: config.pgbenchThreads,
    durationSeconds: config.durationSeconds,
    now: new Date(),
    onSpawn: (child) => {
      children.add(child)
      child.on('exit', () => children.delete(child))
    },
  })
  const admitted = (await withClient(config.benchUrl, countBookings)) - before
  say(
    `  ${run.tps.toFixed(0)} TPS, p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms; load average ${loadavg()[0]?.toFixed(2)}`,
  )
  return { ...run, admitted, refused: run.transactions - admitted }
}

async function main(): Promise<void> {
  if (process.argv.includes('--print-sql')) {
    say(
      sampleStatement(new Date(), {
        accountId: '11111111-1111-4111-8111-111111111111',
        userId: '22222222-2222-4222-8222-222222222222',
        sessionId: '33333333-3333-4333-8333-333333333333',
      }),
    )
    return
  }
  const config = loadBenchConfig()
  const started = new Date()
  const loadAtStart = Number(loadavg()[0]?.toFixed(2) ?? 0)
  say(`plangate benchmark, ${started.toISOString()}`)
  const server = await recreateBenchDatabase(config.adminUrl)
  say(`database: ${redactUrl(config.benchUrl)} (recreated)`)

  say(`starting the service (pool ${config.poolSize})…`)
  const service = await startService(repoRoot, config.benchUrl, config.poolSize, config.serviceNodeArgs)
  children.add(service.child)
  try {
    say(`seeding ${config.users} users through the API…`)
    const users = await seedThroughApi(service.baseUrl, config.users)
    await withClient(config.benchUrl, (client) => writeBenchAccounts(client, users))

    let prefill: BenchResults['prefill'] = null
    if (config.prefill > 0) {
      say(`prefilling ${config.prefill} bookings of history…`)
      const t0 = Date.now()
      await withClient(config.benchUrl, (client) => prefillHistory(client, config.prefill, users.length))
      prefill = { bookings: config.prefill, seconds: (Date.now() - t0) / 1000 }
      say(`  done in ${prefill.seconds.toFixed(1)} s`)
    }

    // Also the warm-up of the booking path: fills each account's busy day to the limit.
    const fill = busyDayFillRequests(users)
    say(`- filling each account's busy day (${fill.amount} creates)…`)
    const busyDayFill = await runLoad('busy-day fill', {
      baseUrl: service.baseUrl,
      connections: config.connections,
      requests: fill.requests,
      amount: fill.amount,
    })
    say(`  ${describe(busyDayFill)}`)
    const busy = await withClient(config.benchUrl, busyDayFull)

    const bookingCreate = await measured(
      config,
      service.child.pid,
      'POST /v1/accounts/:id/bookings',
      { baseUrl: service.baseUrl, requests: bookingRequests(users) },
      null,
    )
    // The same mix with each account's key, on days of its own so that it starts from the state the
    // token run started from (see config.bookingDays); its warm-up (the key path's first calls) too.
    const bookingCreateKey = await measured(
      config,
      service.child.pid,
      'POST /v1/accounts/:id/bookings (API key)',
      { baseUrl: service.baseUrl, requests: bookingRequests(users, 'key', bookingDays.key) },
      bookingRequests(users, 'key', bookingDays.keyWarmup),
    )
    const entitlementRead = await measured(
      config,
      service.child.pid,
      'GET /v1/accounts/:id/entitlements',
      { baseUrl: service.baseUrl, requests: entitlementRequests(users) },
      entitlementRequests(users),
    )
    const entitlementReadKey = await measured(
      config,
      service.child.pid,
      'GET /v1/accounts/:id/entitlements (API key)',
      { baseUrl: service.baseUrl, requests: entitlementRequests(users, 'key') },
      entitlementRequests(users, 'key'),
    )
    const check = await measured(
      config,
      service.child.pid,
      'POST /v1/accounts/:id/check',
      { baseUrl: service.baseUrl, requests: checkRequests(users) },
      checkRequests(users),
    )
    const health = await measured(
      config,
      service.child.pid,
      'GET /health',
      { baseUrl: service.baseUrl, requests: healthRequests },
      healthRequests,
    )

    // The service is idle from here on; stop it so pgbench has the machine to itself.
    await stopProcess(service.child)
    children.delete(service.child)

    const pgbench = await ceiling(config, users, 'prepared')
    const pgbenchExtended = config.pgbenchExtended ? await ceiling(config, users, 'extended') : null

    const integrity = await withClient(config.benchUrl, integrityProblems)
    const results: BenchResults = {
      date: started.toISOString(),
      conditions: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        loadAverage1mAtStart: loadAtStart,
        loadAverage1mAtEnd: Number(loadavg()[0]?.toFixed(2) ?? 0),
        otherActivePostgresBackendsAtStart: server.otherActive,
        node: process.version,
        postgres: server.version,
        durationSeconds: config.durationSeconds,
        warmupSeconds: config.warmupSeconds,
        connections: config.connections,
        databasePoolSize: config.poolSize,
        users: config.users,
        pgbenchClients: config.pgbenchClients,
        pgbenchThreads: config.pgbenchThreads,
        prefill: config.prefill,
        loadGeneratorOnSameMachine: true,
      },
      prefill,
      busyDayFill,
      bookingCreate,
      bookingCreateKey,
      entitlementRead,
      entitlementReadKey,
      check,
      health,
      pgbench,
      pgbenchExtended,
      ratio: pgbench.tps > 0 ? bookingCreate.requestsPerSecond / pgbench.tps : null,
      keyToToken: {
        create: keyToToken(bookingCreateKey, bookingCreate),
        read: keyToToken(entitlementReadKey, entitlementRead),
      },
      checks: {
        busyDaysFull: `${busy.full}/${busy.accounts}`,
        overLimitDays: integrity.overLimit,
        counterMismatches: integrity.mismatched,
      },
    }
    say('')
    say(resultTable(results))
    say('')
    for (const line of detailLines(results)) say(line)
    const file = await writeResults(join(benchFolder, 'results'), results)
    say(`\nresults: ${file}`)
    say(
      `conditions: ${results.conditions.cpus} CPUs, load average ${loadAtStart} at start and ${results.conditions.loadAverage1mAtEnd} at the end, ` +
        `${server.otherActive} other active PostgreSQL sessions; load generator on the same machine.`,
    )
  } finally {
    for (const child of children) await stopProcess(child)
  }
}

function stopChildrenAndExit(code: number): void {
  process.stderr.write('\nbench: interrupted; stopping the service and pgbench\n')
  for (const child of children) child.kill('SIGTERM')
  process.exit(code)
}

process.once('SIGINT', () => stopChildrenAndExit(130))
process.once('SIGTERM', () => stopChildrenAndExit(143))

try {
  await main()
} catch (error) {
  if (error instanceof BenchError) process.stderr.write(`bench: ${error.message}\n`)
  else
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`)
  for (const child of children) await stopProcess(child)
  process.exit(1)
}
