import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import { decodeJwt } from 'jose'
import { type Logger, pino } from 'pino'
import { type App, buildApp } from '../../src/app.ts'
import { bootstrap } from '../../src/bootstrap.ts'
import { loadConfig } from '../../src/config.ts'
import { ManualClock } from '../../src/core/clock.ts'
import type { Deps } from '../../src/deps.ts'
import { listMailFolder, mailFolderDir } from '../../src/modules/mail/folder.ts'
import type { MailFolderMessage } from '../../src/modules/mail/schemas.ts'
import { createDeps, type WiringOptions } from '../../src/wiring.ts'
import { expectData, testClient } from './client.ts'
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
 * through `env`; the clock is manual and starts at the real now. Webhooks may target private
 * addresses (the receivers are local) unless `env` says otherwise.
 */
export async function buildTestApp(
  env: Record<string, string> = {},
  options: {
    testDb?: TestDatabase
    webhookNetwork?: WiringOptions['webhookNetwork']
    log?: Logger
  } = {},
): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '0',
    AUTH_RATE_LIMIT_PER_MINUTE: '0',
    AUTH_IP_RATE_LIMIT_PER_MINUTE: '0',
    ADMIN_EMAIL: adminCredentials.email,
    ADMIN_PASSWORD: adminCredentials.password,
    APP_URL: 'http://plangate.test',
    // The mail outbox (when no SMTP_URL) goes to a folder of its own, never the repository's ./data.
    DATA_DIR: mkdtempSync(join(tmpdir(), 'plangate-test-')),
    // Test receivers listen on 127.0.0.1; the address rule itself is tested with this set to false.
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    // /metrics is served only to this bearer (see scrapeMetrics).
    METRICS_TOKEN: testMetricsToken,
    // Cheap argon2id parameters: the suite signs in hundreds of times. Production's are tested in
    // passwords.unit.test.ts, and a test about hashing under load sets `owasp` back.
    PASSWORD_HASH_COST: 'test',
    ...env,
  })
  const testDb = options.testDb ?? (await createTestDatabase())
  const log = options.log ?? pino({ level: 'silent' })
  const clock = new ManualClock(new Date())
  await bootstrap(testDb.database, config, log, clock.now())
  const deps = await createDeps(config, log, {
    database: testDb.database,
    clock,
    ...(options.webhookNetwork && { webhookNetwork: options.webhookNetwork }),
  })
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
      await deps.redis?.close()
      if (!options.testDb) await testDb.drop()
    },
  }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The METRICS_TOKEN test apps are built with, unless a test passes its own. */
export const testMetricsToken = 'metrics-token-for-tests'

/** The Prometheus text of a test app built with the default METRICS_TOKEN. */
export async function scrapeMetrics(app: App): Promise<string> {
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(testMetricsToken) })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`)
  return res.body
}

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

/**
 * Registers a user through the public flow (register answers 202 whatever the email) and signs in
 * with the password. The email is not verified: see `verifyEmail`.
 */
export async function registerAndLogin(
  app: App,
  overrides: { email?: string; password?: string } = {},
): Promise<TestUser> {
  const email = overrides.email ?? uniqueEmail()
  const password = overrides.password ?? 'correct-horse-battery-staple'
  await expectData(testClient(app).POST('/v1/auth/register', { body: { email, password } }), 202)
  const tokens = await login(app, email, password)
  // The id is the access token's subject; reading it there spends none of the user's rate limit.
  const id = decodeJwt(tokens.token).sub
  if (!id) throw new Error('the access token has no subject')
  return { id, ...tokens, email, password }
}

/**
 * Runs the due jobs and returns the newest outbox message to `to` whose subject matches. Only for
 * apps without SMTP_URL (the outbox is the mail transport).
 */
export async function lastMailTo(t: TestApp, to: string, subject: RegExp): Promise<MailFolderMessage> {
  if (t.deps.config.SMTP_URL) throw new Error('lastMailTo reads the outbox; this app sends over SMTP')
  await t.deps.jobs.drain(t.deps)
  const { data } = await listMailFolder(mailFolderDir(t.deps.config), { limit: 500 })
  const found = data.find((message) => message.to === to && subject.test(message.subject))
  if (!found) throw new Error(`no mail to ${to} matching ${subject}`)
  return found
}

/** The token of the first `APP_URL` link with a `token` parameter in a message's text. */
export function mailToken(message: { text: string }, appUrl = 'http://plangate.test'): string {
  for (const [candidate] of message.text.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
    if (!candidate.startsWith(appUrl)) continue
    const token = new URL(candidate).searchParams.get('token')
    if (token) return token
  }
  throw new Error(`no ${appUrl} link with a token in:\n${message.text}`)
}

/** Verifies the user's email through the emailed link, as the user would. */
export async function verifyEmail(t: TestApp, user: { email: string }): Promise<void> {
  const message = await lastMailTo(t, user.email, /verify/i)
  await expectData(
    testClient(t.app).POST('/v1/auth/email/verify', { body: { token: mailToken(message) } }),
    200,
  )
}

/** Invites an address into an account as `inviterToken`'s user; returns the invitation. */
export async function invite(
  t: TestApp,
  inviterToken: string,
  accountId: string,
  email: string,
  role: 'owner' | 'admin' | 'member' = 'member',
) {
  return expectData(
    testClient(t.app, inviterToken).POST('/v1/accounts/{accountId}/invitations', {
      params: { path: { accountId } },
      body: { email, role },
    }),
    202,
  )
}

/** The token of the newest invitation email sent to `email`. */
export async function invitationToken(t: TestApp, email: string): Promise<string> {
  return mailToken(await lastMailTo(t, email, /invited/i))
}

/**
 * Makes a registered user a member the only way there is: verify their email (once), invite them,
 * and accept the emailed invitation as them.
 */
export async function addMember(
  t: TestApp,
  inviterToken: string,
  accountId: string,
  user: TestUser,
  role: 'owner' | 'admin' | 'member' = 'member',
): Promise<void> {
  const client = testClient(t.app, user.token)
  const me = await expectData(client.GET('/v1/me'), 200)
  if (!me.is_verified) await verifyEmail(t, user)
  await invite(t, inviterToken, accountId, user.email, role)
  const token = await invitationToken(t, user.email)
  await expectData(client.POST('/v1/invitations/accept', { body: { token } }), 200)
}

export async function login(app: App, username: string, password: string) {
  const body = await expectData(testClient(app).POST('/v1/auth/token', { body: { username, password } }), 200)
  return { token: body.access_token, refreshToken: body.refresh_token }
}

export async function loginAdmin(app: App): Promise<string> {
  return (await login(app, adminCredentials.email, adminCredentials.password)).token
}

export async function createAccount(
  app: App,
  token: string,
  body: { name?: string; timezone?: string } = {},
) {
  const name = body.name ?? 'Salon'
  return expectData(
    testClient(app, token).POST('/v1/accounts', {
      body: { name, ...(body.timezone && { timezone: body.timezone }) },
    }),
    201,
  )
}

export async function subscribe(app: App, token: string, accountId: string, plan: string) {
  const subscription = await expectData(
    testClient(app, token).POST('/v1/accounts/{accountId}/subscription', {
      params: { path: { accountId } },
      body: { plan },
    }),
    201,
  )
  // 201 is a subscription; a plan sold through Stripe Checkout answers 202, which expectData refused.
  if (!('id' in subscription)) throw new Error('subscribe started a Checkout')
  return subscription
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
