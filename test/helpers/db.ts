// A fresh, migrated database per test file: in-memory PGlite, or a new database on the PostgreSQL
// server of TEST_DATABASE_URL when the test project asks for it (TEST_DB=postgres).
//
// Migrating takes seconds and most test files need a database, so the migrations run once per set
// of migration files into a template, and each file gets a copy of it: PGlite loads a dump of a
// migrated instance, PostgreSQL runs `CREATE DATABASE … TEMPLATE`. On PostgreSQL the template also
// holds the job queue's schema and queues (creating a queue creates its tables), so an app starting
// on a copy only checks them. The template's name is a hash of what it is made from (the migrations, the
// PGlite and pg-boss versions, the job names), so a change makes a new one. The tests of migrating
// itself (cli, startup) start the real program on empty databases and do not come here.
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { pino } from 'pino'
import { loadConfig } from '../../src/config.ts'
import { type Database, migrationsFolder, openDatabase, pgliteDatabase } from '../../src/core/db.ts'
import { jobHandlers } from '../../src/jobs.ts'
import type { JobHandler } from '../../src/modules/jobs/define.ts'
import { createJobQueue, type JobQueueContext } from '../../src/modules/jobs/queue.ts'

export const testDbKind = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite'

export interface TestDatabase {
  database: Database
  url?: string
  drop(): Promise<void>
}

/**
 * How a test opens a PostgreSQL database. The pool has the service's default size: enough for the
 * tests that fire many requests at once to contend in the database, and each connection opened
 * costs the server a process. A loaded test machine can take seconds to open a burst of
 * connections, which is not the overload the 2 s acquire timeout is for (test/overload.test.ts
 * sets its own), so tests wait up to 10 s for a connection and for the first one.
 */
export const testPoolOptions = { poolSize: 20, acquireTimeoutMs: 10_000, connectTimeoutSeconds: 10 }

export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDbKind === 'pglite') {
    const database = await pgliteDatabase(new PGlite({ loadDataDir: await pgliteTemplateDump() }))
    return { database, drop: () => database.close() }
  }
  const adminUrl = process.env.TEST_DATABASE_URL
  if (!adminUrl) throw new Error('TEST_DB=postgres needs TEST_DATABASE_URL')
  const template = await ensurePostgresTemplate(adminUrl)
  const name = `plangate_t_${randomBytes(6).toString('hex')}`
  await withAdmin(adminUrl, (admin) => admin.query(`create database ${name} template ${template}`))
  const url = databaseUrl(adminUrl, name)
  // A loaded test machine can take over the one second a first connection gets: wait up to 10 s.
  const database = await openDatabase({ url, ...testPoolOptions })
  return {
    database,
    url,
    async drop() {
      // A test may have closed it already (to play a database outage); the copy goes all the same.
      await database.close().catch(() => undefined)
      await withAdmin(adminUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`))
    },
  }
}

/** What the template is made from: the migration files, the PGlite that runs them, the job queues. */
function templateKey(): string {
  const digest = createHash('sha256')
  const require = createRequire(import.meta.url)
  const versionOf = (main: string, up: string) =>
    (
      JSON.parse(readFileSync(join(dirname(require.resolve(main)), up, 'package.json'), 'utf8')) as {
        version: string
      }
    ).version
  digest.update(`pglite ${versionOf('@electric-sql/pglite', '..')}\n`)
  digest.update(`pg-boss ${versionOf('pg-boss', '..')}\n`)
  digest.update(`jobs ${jobHandlers.map((handler) => handler.job.name).join(' ')}\n`)
  const files = [
    ...readdirSync(migrationsFolder).filter((file) => file.endsWith('.sql')),
    join('meta', '_journal.json'),
  ].sort()
  for (const file of files) digest.update(`${file}\n`).update(readFileSync(join(migrationsFolder, file)))
  return digest.digest('hex').slice(0, 16)
}

let pgliteDump: Promise<Blob> | undefined

/**
 * The data directory of a migrated PGlite as an uncompressed tarball, kept in the temporary folder
 * between runs (keyed by the migrations). The first caller of a run builds it; see global-setup.ts.
 */
export function pgliteTemplateDump(): Promise<Blob> {
  pgliteDump ??= (async () => {
    const file = join(tmpdir(), `plangate-pglite-template-${templateKey()}.tar`)
    if (!existsSync(file)) {
      const database = await openDatabase({})
      try {
        // The job queues are not in PGlite's template: the larger dump made every test file's
        // load slower than creating the queues in each app (docs/benchmarks.md, "Test suite").
        await database.migrate()
        const client = (database.db as unknown as { $client: PGlite }).$client
        const dump = await client.dumpDataDir('none')
        // Written aside and renamed, so a reader never sees half a file.
        const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
        writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()))
        renameSync(partial, file)
      } finally {
        await database.close()
      }
    }
    return new Blob([readFileSync(file)])
  })()
  return pgliteDump
}

/**
 * The name of a migrated template database on the server of `adminUrl`, made if missing. Workers
 * that start together wait on an advisory lock while one of them makes it; it is built under a
 * scratch name and renamed at the end, so a template that exists is complete. Nobody may connect
 * to it afterwards (a connection would make the copies fail).
 */
export async function ensurePostgresTemplate(adminUrl: string): Promise<string> {
  const name = `plangate_tpl_${templateKey()}`
  await withAdmin(adminUrl, async (admin) => {
    const exists = async () =>
      (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1
    if (await exists()) return
    await admin.query('select pg_advisory_lock(hashtext($1))', [name])
    try {
      if (await exists()) return
      const scratch = `${name}_build`
      await admin.query(`drop database if exists ${scratch} with (force)`)
      await admin.query(`create database ${scratch}`)
      const database = await openDatabase({
        url: databaseUrl(adminUrl, scratch),
        poolSize: 1,
        connectTimeoutSeconds: 10,
      })
      try {
        await prepareTemplate(database)
      } finally {
        await database.close()
      }
      await admin.query(`alter database ${scratch} with allow_connections false`)
      // Waits (up to 5 s) for the closed connections' server processes to end.
      await admin.query(`alter database ${scratch} rename to ${name}`)
    } finally {
      await admin.query('select pg_advisory_unlock(hashtext($1))', [name])
    }
  })
  return name
}

/** Migrates a PostgreSQL template and creates the job queues' schema and queues in it, as an app start does. */
async function prepareTemplate(database: Database): Promise<void> {
  await database.migrate()
  // Nothing runs here (work: false), so the handlers never see this context without the app's deps.
  const handlers = jobHandlers as readonly JobHandler<JobQueueContext>[]
  const queue = createJobQueue(database, handlers, pino({ level: 'silent' }))
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' })
  await queue.start({ config }, { work: false, schedule: false })
  await queue.stop()
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

const adminPools = new Map<string, pg.Pool>()

/**
 * Runs `work` on a connection to the server's admin database. The connections are pooled per
 * worker (each new one costs the server a process); idle ones do not keep the worker alive.
 */
async function withAdmin<T>(adminUrl: string, work: (admin: pg.PoolClient) => Promise<T>): Promise<T> {
  let pool = adminPools.get(adminUrl)
  if (!pool) {
    pool = new pg.Pool({
      connectionString: adminUrl,
      max: 2,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    })
    pool.on('error', () => undefined)
    adminPools.set(adminUrl, pool)
  }
  const admin = await pool.connect()
  try {
    return await work(admin)
  } finally {
    admin.release()
  }
}
