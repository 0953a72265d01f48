// Start-up failures an operator can fix end with one line naming the setting, no stack trace,
// and a non-zero exit, within the configured bound (the server run as a real process).
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testDbKind } from './helpers/db.ts'
import { type FakePostgres, startFakePostgres } from './helpers/fake-postgres.ts'
import { type Finished, freePort, run } from './helpers/process.ts'

const serve = (settings: Record<string, string>, timeoutMs?: number) =>
  run(process.execPath, ['--import', 'tsx', 'src/server.ts'], settings, timeoutMs)

const dataDir = () => mkdtempSync(join(tmpdir(), 'plangate-startup-'))

/** The process failed with exactly one line on stderr, starting with `plangate: <setting>:`. */
function expectOneLineNaming(result: Finished, setting: string): string {
  expect(result.code, result.stderr).toBe(1)
  const lines = result.stderr.trim().split('\n')
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^plangate: ${setting}: `))
  expect(`${result.stderr}${result.stdout}`).not.toMatch(/^\s+at /m)
  return lines[0] as string
}

describe.runIf(testDbKind === 'pglite')('start-up failures', () => {
  let fakePostgres: FakePostgres
  beforeAll(async () => {
    fakePostgres = await startFakePostgres()
  })
  afterAll(async () => {
    await fakePostgres?.close()
  })

  it('an unreachable database is retried with backoff for DATABASE_CONNECT_TIMEOUT_SECONDS, then one line naming DATABASE_URL', async () => {
    const port = await freePort()
    const retriesSeen: number[] = []
    const result = await serve({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/plangate`,
      // 3 s: the three retries sleep 1.75 s, leaving the attempts themselves a second on a busy machine.
      DATABASE_CONNECT_TIMEOUT_SECONDS: '3',
      PORT: String(await freePort()),
    })
    const line = expectOneLineNaming(result, 'DATABASE_URL')
    expect(line).toBe(
      `plangate: DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:${port} (ECONNREFUSED); gave up after 3 s (DATABASE_CONNECT_TIMEOUT_SECONDS)`,
    )
    // Each retry is logged with its delay, doubling from 250 ms, and the waiting is bounded by the
    // setting: the delays slept add up to less than 3 s (a fourth, of 2 s, would pass it).
    for (const entry of result.stdout.trim().split('\n')) {
      const delay = /retrying in (\d+) ms/.exec(entry)?.[1]
      if (delay) retriesSeen.push(Number(delay))
    }
    expect(retriesSeen).toEqual([250, 500, 1000])
  })

  it('a refused password is one line naming DATABASE_URL and the user, at once and without the password', async () => {
    const secret = `pw-${randomBytes(6).toString('hex')}`
    const result = await serve({
      DATABASE_URL: `postgres://plangate:${secret}@127.0.0.1:${fakePostgres.port}/plangate`,
      DATABASE_CONNECT_TIMEOUT_SECONDS: '30',
      PORT: String(await freePort()),
    })
    const line = expectOneLineNaming(result, 'DATABASE_URL')
    expect(line).toBe(
      `plangate: DATABASE_URL: password authentication failed for user "plangate" at 127.0.0.1:${fakePostgres.port}`,
    )
    expect(result.stdout).not.toContain('retrying')
    expect(`${result.stdout}${result.stderr}`).not.toContain(secret)
  })

  it('a malformed JWT_PRIVATE_KEY is one line naming it', async () => {
    const result = await serve({
      JWT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nbm90IGEga2V5\\n-----END PRIVATE KEY-----',
      DATA_DIR: dataDir(),
      PORT: String(await freePort()),
    })
    expect(expectOneLineNaming(result, 'JWT_PRIVATE_KEY')).toMatch(/not a readable PEM private key/)
  })

  it('production refuses to start without an explicit APP_URL, one line naming it', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    const result = await serve({
      NODE_ENV: 'production',
      JWT_PRIVATE_KEY: pem,
      DATA_DIR: dataDir(),
      PORT: String(await freePort()),
    })
    expect(expectOneLineNaming(result, 'APP_URL')).toMatch(/required when NODE_ENV=production/)
  })
})

describe.runIf(testDbKind === 'postgres')('start-up failures on a real PostgreSQL', () => {
  const serverUrl = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://localhost/unused')

  it('a missing database is one line naming DATABASE_URL and the database, without waiting out the retries', async () => {
    const name = `plangate_missing_${randomBytes(4).toString('hex')}`
    const url = new URL(serverUrl)
    url.pathname = `/${name}`
    const result = await serve({
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_TIMEOUT_SECONDS: '60',
      PORT: String(await freePort()),
    })
    expect(expectOneLineNaming(result, 'DATABASE_URL')).toContain(`database "${name}" does not exist`)
    expect(result.ms).toBeLessThan(60_000)
  })

  it('an unknown database user is one line naming DATABASE_URL and the user', async () => {
    const url = new URL(serverUrl)
    url.username = `nobody_${randomBytes(4).toString('hex')}`
    const result = await serve({ DATABASE_URL: url.toString(), PORT: String(await freePort()) })
    expect(expectOneLineNaming(result, 'DATABASE_URL')).toContain(`refused user "${url.username}"`)
  })

  it('a port already in use is one line naming PORT, not a stack trace', async () => {
    const name = `plangate_port_${randomBytes(4).toString('hex')}`
    const admin = async (statement: string) => {
      const client = new pg.Client({ connectionString: serverUrl.toString() })
      await client.connect()
      try {
        await client.query(statement)
      } finally {
        await client.end()
      }
    }
    await admin(`create database ${name}`)
    const squatter = createServer()
    squatter.listen(0, '127.0.0.1')
    await once(squatter, 'listening')
    const address = squatter.address()
    const port = typeof address === 'object' && address ? address.port : 0
    try {
      const url = new URL(serverUrl)
      url.pathname = `/${name}`
      const result = await serve(
        { DATABASE_URL: url.toString(), HOST: '127.0.0.1', PORT: String(port) },
        180_000,
      )
      expect(expectOneLineNaming(result, 'PORT')).toBe(`plangate: PORT: 127.0.0.1:${port} is already in use`)
    } finally {
      squatter.close()
      await admin(`drop database if exists ${name} with (force)`)
    }
  }, 240_000)
})
