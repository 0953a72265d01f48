// A fresh, migrated database per test file: in-memory PGlite, or a new database on the PostgreSQL
// server of TEST_DATABASE_URL when the test project asks for it (TEST_DB=postgres).
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { type Database, openDatabase } from '../../src/core/db.ts'

export const testDbKind = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite'

export interface TestDatabase {
  database: Database
  url?: string
  drop(): Promise<void>
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDbKind === 'pglite') {
    const database = await openDatabase({})
    await database.migrate()
    return { database, drop: () => database.close() }
  }
  const adminUrl = process.env.TEST_DATABASE_URL
  if (!adminUrl) throw new Error('TEST_DB=postgres needs TEST_DATABASE_URL')
  const name = `plangate_t_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const database = await openDatabase({ url: url.toString(), poolSize: 60 })
  await database.migrate()
  return {
    database,
    url: url.toString(),
    async drop() {
      await database.close()
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    },
  }
}
