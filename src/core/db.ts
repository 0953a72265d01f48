// The database seam: one Drizzle API over two drivers, PostgreSQL (`pg`) and embedded PGlite.
// Business functions take an `Executor` (the database or an open transaction) and never know which.
// Drizzle is built without the table list (no `db.query.*` relational API): queries name the
// tables they use, so this seam depends on no module. src/db/schema.ts is drizzle-kit's alone.

import { createHash } from 'node:crypto'
import { chmodSync, mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { ExtractTablesWithRelations, SQL } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { type PgDatabase, PgDialect, type PgQueryResultHKT, type PgTransaction } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import pg from 'pg'
import { lockDataDir } from './data-dir-lock.ts'
import { waitForPostgres } from './db-connect.ts'
import { StartupError } from './startup.ts'
import { type Statement, statementParams, statementSql } from './statement.ts'

type NoSchema = Record<string, never>
export type Db = PgDatabase<PgQueryResultHKT, NoSchema>
export type Tx = PgTransaction<PgQueryResultHKT, NoSchema, ExtractTablesWithRelations<NoSchema>>
/** Anything that runs queries: the database itself or an open transaction. */
export type Executor = Db | Tx

/** A minimal SQL runner over the base connection, for libraries that take one (pg-boss). */
export interface SqlRunner {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
}

export interface Database {
  db: Db
  kind: 'postgres' | 'pglite'
  /** The connection string (PostgreSQL only). */
  url?: string
  /** Runs raw SQL on the base connection; statements without values may hold several commands. */
  bossDb(): SqlRunner
  /** Runs the committed migrations (idempotent; safe for several processes at once on PostgreSQL). */
  migrate(): Promise<void>
  /** Throws when the database does not answer. */
  ping(): Promise<void>
  /** The PostgreSQL pool's connections right now (undefined on PGlite, which has one connection). */
  poolStats(): PoolStats | undefined
  close(): Promise<void>
}

export interface PoolStats {
  /** Connections open (busy or idle), at most the pool size. */
  total: number
  idle: number
  /** Callers queued for a connection. */
  waiting: number
  max: number
}

export const migrationsFolder = resolve(dirname(fileURLToPath(import.meta.url)), '../db/migrations')

export interface DatabaseOptions {
  /** PostgreSQL connection string; without it an embedded PGlite database is used. */
  url?: string | undefined
  /** Folder for PGlite's files; `undefined` keeps PGlite in memory (tests). */
  dataDir?: string | undefined
  poolSize?: number
  /**
   * How long a caller waits for a pooled connection (a free one, or a new one being opened) before
   * it fails: pg's connectionTimeoutMillis. A full pool that stays busy that long is overload
   * (`service_busy`); a connection that cannot be opened in time is an outage (`service_unavailable`).
   */
  acquireTimeoutMs?: number
  onPoolError?: (error: Error) => void
  /** How long start-up keeps retrying an unreachable PostgreSQL (default: one attempt). */
  connectTimeoutSeconds?: number
  onConnectRetry?: (message: string, delayMs: number) => void
}

// Postgres types that pg would otherwise turn into strings or lossy values.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options)
  return openPglite(options.dataDir)
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  await waitForPostgres(url, {
    timeoutSeconds: options.connectTimeoutSeconds ?? 0,
    ...(options.onConnectRetry && { onRetry: options.onConnectRetry }),
  })
  const max = options.poolSize ?? 20
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    // A stuck query must not hold a request forever.
    statement_timeout: 15_000,
  })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', (error) => options.onPoolError?.(error))
  const db = drizzlePg(pool) as unknown as Db
  // Raw statements on the pool run as named prepared statements: each connection parses and plans
  // a hot-path statement once instead of on every request.
  preparedRunners.set(db, async (text, values) => {
    const result = await pool.query({ name: statementName(text), text, values })
    return result.rows
  })
  return {
    db,
    kind: 'postgres',
    url,
    bossDb: () => ({
      executeSql: async (text, values) => ({ rows: (await pool.query(text, values)).rows }),
    }),
    async migrate() {
      // An advisory lock serialises concurrent start-ups of several instances.
      const client = await pool.connect()
      try {
        await client.query('select pg_advisory_lock(7244019)')
        await migratePg(drizzlePg(client), { migrationsFolder })
      } finally {
        await client.query('select pg_advisory_unlock(7244019)').catch(() => undefined)
        client.release()
      }
    },
    async ping() {
      await pool.query('select 1')
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    async close() {
      await pool.end()
    },
  }
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let client: PGlite
  let unlock = () => {}
  if (dataDir) {
    const folder = join(resolve(dataDir), 'pglite')
    try {
      mkdirSync(folder, { recursive: true, mode: 0o700 })
      // PGlite writes its files readable and writable by everyone (0666, whatever the umask), and
      // they hold password hashes and the generated signing key: the folder itself is closed to
      // other users, also when an older version created it open.
      chmodSync(folder, 0o700)
    } catch (error) {
      throw new StartupError(`DATA_DIR: cannot create ${folder} (${(error as NodeJS.ErrnoException).code})`)
    }
    // One process per data directory (see data-dir-lock.ts), held until close or exit.
    unlock = lockDataDir(join(resolve(dataDir), 'pglite.lock'), dataDir)
    client = new PGlite(folder)
  } else {
    client = new PGlite()
  }
  try {
    return await pgliteDatabase(client, unlock)
  } catch (error) {
    unlock()
    throw error
  }
}

/**
 * A Database over a PGlite client (opened on a folder, in memory, or from a dump); `onClose` runs
 * after the client closed.
 */
export async function pgliteDatabase(client: PGlite, onClose: () => void = () => {}): Promise<Database> {
  await client.waitReady
  const db = drizzlePglite(client) as unknown as Db
  return {
    db,
    kind: 'pglite',
    bossDb: () => ({
      async executeSql(text, values) {
        // pg-boss sends its schema migrations as one multi-statement text without values.
        if (!values || values.length === 0) {
          const results = await client.exec(text)
          return { rows: results.at(-1)?.rows ?? [] }
        }
        return { rows: (await client.query(text, values)).rows }
      },
    }),
    async migrate() {
      await migratePglite(drizzlePglite(client), { migrationsFolder })
    },
    async ping() {
      await client.query('select 1')
    },
    poolStats: () => undefined,
    async close() {
      try {
        await client.close()
      } finally {
        onClose()
      }
    },
  }
}

const dialect = new PgDialect()
const preparedRunners = new WeakMap<object, (text: string, values: unknown[]) => Promise<unknown[]>>()
const statementNames = new Map<string, string>()

/** A stable name per statement text (PostgreSQL requires one text per name on a connection). */
function statementName(text: string): string {
  let name = statementNames.get(text)
  if (!name) {
    name = `pg_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`
    statementNames.set(text, name)
  }
  return name
}

/**
 * Runs a raw statement and returns its rows, typed by the caller. On the PostgreSQL pool (outside
 * a transaction) it is a named prepared statement; otherwise it goes through Drizzle.
 */
export async function queryRows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const prepared = preparedRunners.get(executor)
  if (prepared) {
    const { sql: text, params } = dialect.sqlToQuery(query)
    return (await prepared(text, params)) as T[]
  }
  const result = (await executor.execute(query)) as unknown as { rows: T[] }
  return result.rows
}

/** Like queryRows, for statements that return at most one row. */
export async function queryRow<T>(executor: Executor, query: SQL): Promise<T | undefined> {
  const rows = await queryRows<T>(executor, query)
  return rows[0]
}

/** Runs a statement rendered once (core/statement.ts) with this call's values. */
export async function runStatement<T, V>(
  executor: Executor,
  statement: Statement<V>,
  values: V,
): Promise<T[]> {
  const prepared = preparedRunners.get(executor)
  if (prepared) return (await prepared(statement.text, statementParams(statement, values))) as T[]
  const result = (await executor.execute(statementSql(statement, values))) as unknown as { rows: T[] }
  return result.rows
}

/** Like runStatement, for statements that return at most one row. */
export async function statementRow<T, V>(
  executor: Executor,
  statement: Statement<V>,
  values: V,
): Promise<T | undefined> {
  const rows = await runStatement<T, V>(executor, statement, values)
  return rows[0]
}
