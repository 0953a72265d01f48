// The `plangate` commands that work on the database, loaded only when one of them runs (so that
// `--help` and `--version` answer at once). Refusals are StartupErrors: one line, exit status 1.
import closeWithGrace from 'close-with-grace'
import { type Level, pino } from 'pino'
import { z } from 'zod'
import { bootstrap } from './bootstrap.ts'
import type { Config } from './config.ts'
import { type Database, type Executor, openDatabase } from './core/db.ts'
import { AppError } from './core/errors.ts'
import { CommandError, StartupError } from './core/startup.ts'
import { createLogger } from './logging.ts'
import { getAccount } from './modules/accounts/accounts.ts'
import { grantAdmin } from './modules/auth/admins.ts'
import { assertStrongPassword } from './modules/auth/password-policy.ts'
import { createKey, keyOwner, listKeys, revokeKey } from './modules/keys/keys.ts'
import type { ApiKey } from './modules/keys/schemas.ts'
import { type KeyScope, keyScopes, siteOnlyScopes } from './modules/keys/scopes.ts'
import { type MetricsServer, serveMetrics } from './modules/ops/metrics-server.ts'
import { closeDeps, startDeps } from './wiring.ts'

const say = (line: string) => process.stdout.write(`${line}\n`)

/** Logs go to stderr, so stdout carries only the command's own answer (a password, say). */
function commandLog(config: Config) {
  // The command reports what it did itself; its info-level progress lines would only repeat it.
  const level: Level | 'silent' = config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL
  return createLogger(level, pino.destination(2))
}

async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: 2,
    connectTimeoutSeconds: config.DATABASE_CONNECT_TIMEOUT_SECONDS,
    onConnectRetry: (message, delayMs) =>
      process.stderr.write(`plangate: ${message}; retrying in ${delayMs} ms\n`),
  })
  try {
    return await work(database)
  } finally {
    await database.close()
  }
}

/** Applies pending migrations and seeds plans, saying which. */
export async function migrate(config: Config): Promise<void> {
  await withDatabase(config, async (database) => {
    const report = await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    if (report.migrations.length === 0) say('database schema already up to date')
    else
      say(
        `applied ${report.migrations.length} migration${report.migrations.length === 1 ? '' : 's'}: ${report.migrations.join(', ')}`,
      )
    if (report.seededPlans.length > 0) say(`seeded plans: ${report.seededPlans.join(', ')}`)
  })
}

/** Creates a site admin (printing a generated password when none is given), or promotes a user. */
export async function createAdmin(
  config: Config,
  email: string,
  password: string | undefined,
): Promise<void> {
  if (!z.email().safeParse(email).success) throw new StartupError(`email: not an email address: ${email}`)
  if (password !== undefined) {
    // The policy registration applies; checked before the database is opened.
    try {
      assertStrongPassword(password, config.PASSWORD_MIN_LENGTH, [email], 'password')
    } catch (error) {
      if (error instanceof AppError) throw new StartupError(`password: ${error.detail ?? error.message}`)
      throw error
    }
  }
  await withDatabase(config, async (database) => {
    await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    const grant = await grantAdmin(database.db, email, password, new Date())
    if (grant.outcome === 'promoted')
      say(`${email} is now a site admin${password ? ' (the existing password is unchanged)' : ''}`)
    else
      say(
        grant.generated ? `created admin ${email} with password ${grant.password}` : `created admin ${email}`,
      )
  })
}

/** What `keys create` is given on the command line, checked before the database is opened. */
export interface KeyRequest {
  name: string
  scopes: string
  account: string | undefined
  expires: string | undefined
}

export function checkKeyRequest(request: KeyRequest, now: Date) {
  const name = request.name.trim()
  if (name.length === 0 || name.length > 100) throw new CommandError('--name: 1 to 100 characters', 2)
  const scopes = request.scopes
    .split(',')
    .map((scope) => scope.trim())
    .filter((scope) => scope !== '')
  if (scopes.length === 0) throw new CommandError(`--scopes: at least one of ${keyScopes.join(', ')}`, 2)
  const unknown = scopes.filter((scope) => !(keyScopes as readonly string[]).includes(scope))
  if (unknown.length > 0)
    throw new CommandError(
      `--scopes: unknown scope ${unknown.join(', ')} (known: ${keyScopes.join(', ')})`,
      2,
    )
  const account = request.account
  if (account !== undefined && !z.uuid().safeParse(account).success)
    throw new CommandError(`--account: not an account id: ${account}`, 2)
  const siteOnly = scopes.filter((scope) => siteOnlyScopes.includes(scope as KeyScope))
  if (account !== undefined && siteOnly.length > 0)
    throw new CommandError(`--scopes: ${siteOnly.join(', ')} is for site keys only (drop --account)`, 2)
  let expiresAt: string | undefined
  if (request.expires !== undefined) {
    const at = new Date(request.expires)
    if (Number.isNaN(at.getTime())) throw new CommandError(`--expires: not a date: ${request.expires}`, 2)
    if (at <= now) throw new CommandError(`--expires: must be in the future: ${request.expires}`, 2)
    expiresAt = at.toISOString()
  }
  return { name, scopes: scopes as KeyScope[], account: account ?? null, expiresAt }
}

/** An AppError of the keys or accounts rules as the operator's one line, a 404 saying what was not found. */
const refused =
  (notFound: string) =>
  (error: unknown): never => {
    if (error instanceof AppError)
      throw new StartupError(error.code === 'not_found' ? notFound : (error.detail ?? error.message))
    throw error
  }

/** Opens the database (migrated), runs a `keys` command on it, closes it. */
function onDatabase(
  config: Config,
  command: (executor: Executor, print: (line: string) => void) => Promise<void>,
) {
  return withDatabase(config, async (database) => {
    await bootstrap(database, config, commandLog(config), new Date(), { admin: false })
    await command(database.db, say)
  })
}

/**
 * `keys create`: a site key (or, with an account, that account's key), made by no person (audited
 * as the system). Prints the secret once.
 */
export async function createApiKey(config: Config, request: KeyRequest): Promise<void> {
  const checked = checkKeyRequest(request, new Date())
  await onDatabase(config, (executor, print) => createKeyCommand(executor, checked, new Date(), print))
}

/** `keys create` on an open database, once its arguments are checked (`checkKeyRequest`). */
export async function createKeyCommand(
  executor: Executor,
  checked: ReturnType<typeof checkKeyRequest>,
  now: Date,
  print: (line: string) => void,
): Promise<void> {
  const key = await executor
    .transaction(async (tx) => {
      if (checked.account !== null) await getAccount(tx, checked.account, null)
      return createKey(
        tx,
        { name: checked.name, scopes: checked.scopes, expires_at: checked.expiresAt ?? null },
        checked.account,
        null,
        now,
      )
    })
    .catch(refused(`--account: no account ${checked.account}`))
  print(`created ${key.account_id === null ? 'site key' : `key of account ${key.account_id}`} ${key.id}`)
  print(`  name:    ${key.name}`)
  print(`  prefix:  ${key.prefix}`)
  print(`  scopes:  ${key.scopes.join(', ')}`)
  print(`  expires: ${key.expires_at ?? 'never'}`)
  print('secret (shown once; send it as "Authorization: Bearer <secret>"):')
  print(key.key)
}

const keyColumns: [string, (key: ApiKey) => string][] = [
  ['id', (key) => key.id],
  ['prefix', (key) => key.prefix],
  ['name', (key) => key.name],
  ['scopes', (key) => key.scopes.join(',')],
  ['last used', (key) => key.last_used_at ?? '-'],
  ['expires', (key) => key.expires_at ?? '-'],
  ['revoked', (key) => key.revoked_at ?? '-'],
]

const checkAccountId = (account: string | undefined) => {
  if (account !== undefined && !z.uuid().safeParse(account).success)
    throw new CommandError(`--account: not an account id: ${account}`, 2)
  return account ?? null
}

/** `keys list`: the site keys, or one account's, newest first, as a table (never the secrets). */
export async function listApiKeys(config: Config, account: string | undefined): Promise<void> {
  const accountId = checkAccountId(account)
  await onDatabase(config, (executor, print) => listKeysCommand(executor, accountId, print))
}

/** `keys list` on an open database. */
export async function listKeysCommand(
  executor: Executor,
  accountId: string | null,
  print: (line: string) => void,
): Promise<void> {
  const keys: ApiKey[] = []
  let cursor: string | undefined
  do {
    const page = await listKeys(executor, accountId, { limit: 100, ...(cursor && { cursor }) })
    keys.push(...page.data)
    cursor = page.next_cursor ?? undefined
  } while (cursor)
  if (keys.length === 0) {
    print(accountId === null ? 'no site keys' : `no keys of account ${accountId}`)
    return
  }
  const rows = [
    keyColumns.map(([title]) => title),
    ...keys.map((key) => keyColumns.map(([, cell]) => cell(key))),
  ]
  const widths = keyColumns.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)))
  for (const row of rows)
    print(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
}

/** `keys revoke <id>`: the key (site or account) stops working at once; revoking twice says so. */
export async function revokeApiKey(config: Config, keyId: string): Promise<void> {
  if (!z.uuid().safeParse(keyId).success) throw new CommandError(`not a key id: ${keyId}`, 2)
  await onDatabase(config, (executor, print) => revokeKeyCommand(executor, keyId, new Date(), print))
}

/** `keys revoke` on an open database. */
export async function revokeKeyCommand(
  executor: Executor,
  keyId: string,
  now: Date,
  print: (line: string) => void,
): Promise<void> {
  const { key, wasRevoked } = await executor
    .transaction(async (tx) => {
      const owner = await keyOwner(tx, keyId)
      return { key: await revokeKey(tx, keyId, owner.accountId, null, now), wasRevoked: owner.revoked }
    })
    .catch(refused(`no key with id ${keyId}`))
  print(
    wasRevoked
      ? `${key.prefix} (${key.name}, ${key.id}) was already revoked at ${key.revoked_at}`
      : `revoked ${key.prefix} (${key.name}, ${key.id})`,
  )
}

/** Polls and runs jobs until SIGTERM/SIGINT; running jobs finish before the process exits. */
export async function runWorker(config: Config): Promise<void> {
  const log = createLogger(config.LOG_LEVEL)
  // A worker serves no requests, so it has no rate limits to count in Redis.
  const metricsPort = config.WORKER_METRICS_PORT
  if (metricsPort !== undefined && !config.METRICS_TOKEN)
    throw new StartupError('WORKER_METRICS_PORT: set METRICS_TOKEN too (the bearer a scraper sends)')
  const deps = await startDeps({ ...config, REDIS_URL: undefined }, log)
  let metricsServer: MetricsServer | undefined
  try {
    if (metricsPort !== undefined && config.METRICS_TOKEN) {
      metricsServer = await serveMetrics(deps.metrics, {
        host: config.HOST,
        port: metricsPort,
        token: config.METRICS_TOKEN,
      })
    }
    await deps.jobs.start(deps, { work: true })
  } catch (error) {
    await metricsServer?.close()
    await closeDeps(deps).catch(() => undefined)
    if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE')
      throw new StartupError(`WORKER_METRICS_PORT: ${config.HOST}:${metricsPort} is in use`)
    throw error
  }
  log.info(
    { database: deps.database.kind, ...(metricsServer && { metricsPort: metricsServer.port }) },
    'plangate worker running',
  )
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'worker stopping after an error')
    else log.info({ signal }, 'worker stopping')
    await metricsServer?.close()
    await closeDeps(deps)
  })
}
