import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { type Logger, pino } from 'pino'
import { type App, buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { ManualClock } from '../../src/core/clock.ts'
import type { Deps } from '../../src/deps.ts'
import { createDeps } from '../../src/wiring.ts'
import { createTestDatabase, type TestDatabase } from './db.ts'

export const adminCredentials = { email: 'admin@example.test', password: 'admin-password-for-tests' }

export interface TestApp {
  app: App
  deps: Deps
  clock: ManualClock
  testDb: TestDatabase
  close(): Promise<void>
}

/**
 * A migrated, seeded app on its own database. Rate limits are off unless the test turns them on
 * through `env`; the clock is manual and starts at the real now.
 */
export async function buildTestApp(
  env: Record<string, string> = {},
  options: { testDb?: TestDatabase; log?: Logger } = {},
): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    AUTH_RATE_LIMIT_PER_MINUTE: '0',
    ADMIN_EMAIL: adminCredentials.email,
    ADMIN_PASSWORD: adminCredentials.password,
    APP_URL: 'http://plangate.test',
    // The mail outbox (when no SMTP_URL) goes to a folder of its own, never the repository's ./data.
    DATA_DIR: mkdtempSync(join(tmpdir(), 'plangate-test-')),
    ...env,
  })
  const testDb = options.testDb ?? (await createTestDatabase())
  const log = options.log ?? pino({ level: 'silent' })
  const clock = new ManualClock(new Date())
  const deps = await createDeps(config, log, { database: testDb.database, clock })
  // Jobs are not polled in tests and nothing is scheduled: a test runs what is due with
  // `deps.jobs.drain(deps)`, and calls a scheduled job's function itself with the test clock.
  await deps.jobs.start(deps, { work: false, schedule: false })
  const app = await buildApp(deps)
  await app.ready()
  return {
    app,
    deps,
    clock,
    testDb,
    async close() {
      await app.close()
      await deps.jobs.stop()
      if (!options.testDb) await testDb.drop()
    },
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

let sequence = 0
/** A unique slug per call (plan codes and the like). */
export const uniqueCode = (prefix = 'plan') =>
  `${prefix}-${Date.now().toString(36)}-${(sequence++).toString(36)}`

/** A unique email per call, so tests never collide on fixed identifiers. */
export const uniqueEmail = (prefix = 'user') =>
  `${prefix}-${Date.now().toString(36)}-${(sequence++).toString(36)}@example.test`

export interface TestUser {
  id: string
  email: string
  password: string
  token: string
  refreshToken: string
}

export async function registerAndLogin(
  app: App,
  overrides: { email?: string; password?: string } = {},
): Promise<TestUser> {
  const email = overrides.email ?? uniqueEmail()
  const password = overrides.password ?? 'correct-horse-battery-staple'
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password },
  })
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.body}`)
  return { id: registered.json().id, ...(await login(app, email, password)), email, password }
}

export async function login(app: App, username: string, password: string) {
  const res = await app.inject({ method: 'POST', url: '/v1/auth/token', payload: { username, password } })
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`)
  const body = res.json()
  return { token: body.access_token as string, refreshToken: body.refresh_token as string }
}

export async function loginAdmin(app: App): Promise<string> {
  return (await login(app, adminCredentials.email, adminCredentials.password)).token
}

export async function createAccount(
  app: App,
  token: string,
  body: { name?: string; timezone?: string } = {},
) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/accounts',
    headers: bearer(token),
    payload: { name: body.name ?? 'Salon', ...(body.timezone && { timezone: body.timezone }) },
  })
  if (res.statusCode !== 201) throw new Error(`create account failed: ${res.body}`)
  return res.json() as { id: string; timezone: string }
}

export async function subscribe(app: App, token: string, accountId: string, plan: string) {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/accounts/${accountId}/subscription`,
    headers: bearer(token),
    payload: { plan },
  })
  if (res.statusCode !== 201) throw new Error(`subscribe failed: ${res.body}`)
  return res.json()
}

/** An owner with an account subscribed to `plan`. */
export async function subscribedAccount(app: App, plan = 'basic', timezone?: string) {
  const owner = await registerAndLogin(app)
  const account = await createAccount(app, owner.token, timezone ? { timezone } : {})
  await subscribe(app, owner.token, account.id, plan)
  return { owner, account }
}

export const problemOf = (res: LightMyRequestResponse) => {
  const body = res.json()
  return { status: res.statusCode, code: body.code as string, contentType: res.headers['content-type'], body }
}
