// The `plangate` command as an operator meets it, and beside a running server.
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrationsFolder } from '../src/core/db.ts'
import { testDbKind } from './helpers/db.ts'
import { freePort, isAlive, plangate, type RunningServer, repoRoot, startServer } from './helpers/process.ts'

const dataDir = () => mkdtempSync(join(tmpdir(), 'plangate-cli-'))
const strongPassword = 'violet lantern orbits quietly'

/** Every committed migration, oldest first: what a fresh database gets. */
const migrationTags = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string }[]
  }
).entries.map((entry) => entry.tag)

async function signIn(baseUrl: string, username: string, password: string) {
  const res = await fetch(`${baseUrl}/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  return { status: res.status, body: (await res.json()) as { access_token?: string } }
}

describe.runIf(testDbKind === 'pglite')('plangate command line', () => {
  it('answers --help and --version with exit 0', async () => {
    const help = await plangate(['--help'], {})
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^usage: plangate <command>/)
    for (const command of [
      'serve',
      'worker',
      'migrate',
      'create-admin',
      'keys create',
      'keys list',
      'keys revoke',
      'plans pull',
      'plans diff',
      'plans push',
    ])
      expect(help.stdout).toContain(command)
    expect(help.stderr).toBe('')

    const version = await plangate(['--version'], {})
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
    expect(version).toMatchObject({ code: 0, stdout: `plangate ${pkg.version}\n`, stderr: '' })
  })

  it('answers an unknown command with its usage and exit 2', async () => {
    const result = await plangate(['frobnicate'], {})
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^plangate: unknown command "frobnicate"\n\nusage: plangate <command>/)
  })

  it('worker refuses WORKER_METRICS_PORT without METRICS_TOKEN, before opening the database', async () => {
    const dir = dataDir()
    const result = await plangate(['worker'], { DATA_DIR: dir, WORKER_METRICS_PORT: '9464' })
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      'plangate: WORKER_METRICS_PORT: set METRICS_TOKEN too (the bearer a scraper sends)\n',
    )
    expect(existsSync(join(dir, 'pglite'))).toBe(false)
  })

  it('create-admin refuses a weak password with the policy registration uses, and creates nothing', async () => {
    const dir = dataDir()
    const common = await plangate(['create-admin', 'ops@example.test', 'password123'], { DATA_DIR: dir })
    expect(common.code).toBe(1)
    expect(common.stderr).toMatch(/^plangate: password: too easy to guess/)
    const short = await plangate(['create-admin', 'ops@example.test', 'x7#Qz'], { DATA_DIR: dir })
    expect(short.code).toBe(1)
    expect(short.stderr).toBe('plangate: password: at least 10 characters\n')
    // Refused before the database was even opened.
    expect(existsSync(join(dir, 'pglite'))).toBe(false)
  }, 120_000)

  it('migrate names the migrations it applied, then says the database is already up to date', async () => {
    const dir = dataDir()
    const first = await plangate(['migrate'], { DATA_DIR: dir }, 240_000)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe(
      `applied ${migrationTags.length} migrations: ${migrationTags.join(', ')}\nseeded plans: basic, pro\n`,
    )
    const second = await plangate(['migrate'], { DATA_DIR: dir }, 240_000)
    expect(second).toMatchObject({ code: 0, stdout: 'database schema already up to date\n' })
  }, 480_000)
})

describe.runIf(testDbKind === 'postgres')('plangate migrate on PostgreSQL', () => {
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://localhost/unused'
  const name = `plangate_cli_${randomBytes(5).toString('hex')}`
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  beforeAll(() => admin(`create database ${name}`))
  afterAll(() => admin(`drop database if exists ${name} with (force)`))

  it('names the migrations it applied, then says the database is already up to date', async () => {
    const first = await plangate(['migrate'], { DATABASE_URL: url.toString() })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe(
      `applied ${migrationTags.length} migrations: ${migrationTags.join(', ')}\nseeded plans: basic, pro\n`,
    )
    const second = await plangate(['migrate'], { DATABASE_URL: url.toString() })
    expect(second).toMatchObject({ code: 0, stdout: 'database schema already up to date\n' })
  }, 240_000)
})

// The defect: `create-admin` run while `npm start` held the same embedded data directory printed
// a password that never worked, and the user was gone after a restart.
describe.runIf(testDbKind === 'pglite')('the CLI beside a running server on the embedded database', () => {
  const dir = dataDir()
  const admin = { ADMIN_EMAIL: 'owner-admin@example.test', ADMIN_PASSWORD: 'admin password for the cli test' }
  let port: number
  let server: RunningServer | undefined
  let accountId: string

  beforeAll(async () => {
    port = await freePort()
    // As a user runs it: `npm start`, APP_URL left to its default.
    server = await startServer(
      { DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'info', ...admin },
      { via: 'npm' },
    )
  }, 240_000)
  afterAll(async () => {
    await server?.stop('SIGKILL')
  })

  it('issues tokens for the address it serves when APP_URL is unset (the port, not 8000)', async () => {
    const base = `http://127.0.0.1:${port}`
    const { status, body } = await signIn(base, admin.ADMIN_EMAIL, admin.ADMIN_PASSWORD)
    expect(status).toBe(200)
    const claims = JSON.parse(
      Buffer.from(String(body.access_token).split('.')[1] ?? '', 'base64url').toString(),
    )
    expect(claims.iss).toBe(base)
    // Some data to find again after the restart.
    const created = await fetch(`${base}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${body.access_token}` },
      body: JSON.stringify({ name: 'Kept across restarts' }),
    })
    expect(created.status).toBe(201)
    accountId = ((await created.json()) as { id: string }).id
  })

  it('refuses create-admin, migrate and keys on the data directory the server holds, naming its pid, and the server keeps working', async () => {
    const serverPid = Number(readFileSync(join(dir, 'pglite.lock'), 'utf8'))
    expect(isAlive(serverPid)).toBe(true)
    const refused = await plangate(['create-admin', 'late-admin@example.test', strongPassword], {
      DATA_DIR: dir,
    })
    expect(refused.code).toBe(1)
    expect(refused.stdout).toBe('')
    expect(refused.stderr).toBe(
      `plangate: DATA_DIR: ${dir} is in use by another plangate process (pid ${serverPid}); stop it first, ` +
        'or use PostgreSQL (DATABASE_URL) to run commands beside a running server\n',
    )
    const migrate = await plangate(['migrate'], { DATA_DIR: dir })
    expect(migrate.code).toBe(1)
    expect(migrate.stderr).toContain(`in use by another plangate process (pid ${serverPid})`)
    const keys = await plangate(['keys', 'list'], { DATA_DIR: dir })
    expect(keys.code).toBe(1)
    expect(keys.stderr).toContain(`in use by another plangate process (pid ${serverPid})`)

    const base = `http://127.0.0.1:${port}`
    expect((await fetch(`${base}/ready`)).status).toBe(200)
    expect((await signIn(base, admin.ADMIN_EMAIL, admin.ADMIN_PASSWORD)).status).toBe(200)
    expect((await signIn(base, 'late-admin@example.test', strongPassword)).status).toBe(401)
  }, 240_000)

  it('stops promptly on SIGTERM sent to npm start: the signal reaches the server, which exits and releases the lock', async () => {
    const serverPid = Number(readFileSync(join(dir, 'pglite.lock'), 'utf8'))
    const stopped = await server?.stop('SIGTERM', 30_000)
    expect(stopped?.ms).toBeLessThan(15_000)
    expect(isAlive(serverPid)).toBe(false)
    expect(existsSync(join(dir, 'pglite.lock'))).toBe(false)
    // It went through the graceful shutdown, not a kill.
    expect(server?.output().stdout).toMatch(/"signal":"SIGTERM","msg":"shutting down"/)
  })

  it('with the server stopped, create-admin and keys create work, and after a restart that admin, that key and the earlier data are there', async () => {
    const created = await plangate(['create-admin', 'ops-admin@example.test', strongPassword], {
      DATA_DIR: dir,
    })
    expect(created).toMatchObject({ code: 0, stdout: 'created admin ops-admin@example.test\n' })
    // The first site key, made on the database before the server runs again.
    const key = await plangate(['keys', 'create', '--name', 'pricing', '--scopes', 'plans:write'], {
      DATA_DIR: dir,
    })
    expect(key.code, key.stderr).toBe(0)
    expect(key.stdout).toMatch(/^created site key [0-9a-f-]{36}\n(.*\n)* {2}scopes: {2}plans:write\n/)
    const secret = key.stdout.trimEnd().split('\n').at(-1) ?? ''
    expect(secret).toMatch(/^pgk_/)

    // The restart runs as production would, and says so about the embedded defaults.
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })
    server = await startServer({
      DATA_DIR: dir,
      PORT: String(port),
      NODE_ENV: 'production',
      APP_URL: `http://127.0.0.1:${port}`,
      JWT_PRIVATE_KEY: pem.toString(),
      ...admin,
    })
    const { stdout } = server.output()
    expect(stdout).toMatch(/"level":40,.*NODE_ENV=production on the embedded database/)
    expect(stdout).toMatch(
      /"level":40,.*NODE_ENV=production without SMTP_URL: emails are not sent but written to DATA_DIR\/outbox/,
    )

    const base = `http://127.0.0.1:${port}`
    const ops = await signIn(base, 'ops-admin@example.test', strongPassword)
    expect(ops.status).toBe(200)
    expect((await signIn(base, 'late-admin@example.test', strongPassword)).status).toBe(401)
    const account = await fetch(`${base}/v1/accounts/${accountId}`, {
      headers: { authorization: `Bearer ${ops.body.access_token}` },
    })
    expect(account.status).toBe(200)
    expect(((await account.json()) as { name: string }).name).toBe('Kept across restarts')
    const plans = await fetch(`${base}/v1/plans?include_inactive=true`, {
      headers: { authorization: `Bearer ${secret}` },
    })
    expect(plans.status).toBe(200)
    const stopped = await server.stop('SIGTERM', 30_000)
    expect(stopped.code).toBe(0)
  }, 240_000)
})
