// Hardening item 6b: sign-in events were neither logged nor audited. Each auth event now leaves
// an audit entry an operator can filter by actor and action, without any password, token or code.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  loginAdmin,
  problemOf,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import { loginCode, type SmtpSink, startSmtpSink } from '../../../test/helpers/smtp.ts'
import { users } from './tables.ts'

interface Entry {
  id: string
  actor_type: string
  actor_user_id: string | null
  action: string
  subject_type: string
  subject_id: string | null
  data: Record<string, unknown>
}

describe('auth events in the audit log', () => {
  let t: TestApp
  let smtp: SmtpSink
  let adminToken: string

  beforeAll(async () => {
    smtp = await startSmtpSink()
    t = await buildTestApp({
      SMTP_URL: smtp.url,
      AUTH_RATE_LIMIT_PER_MINUTE: '2',
      AUTH_IP_RATE_LIMIT_PER_MINUTE: '20',
    })
    adminToken = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
    await smtp?.close()
  })
  beforeEach(() => smtp.clear())

  // Each test uses addresses of its own, so no budget is shared between tests.
  let address = 0
  const nextIp = () => `198.18.0.${++address}`

  async function auditLog(query: Record<string, string>): Promise<Entry[]> {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/audit-log?${new URLSearchParams({ limit: '100', ...query })}`,
      headers: bearer(adminToken),
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data
  }

  const signIn = (payload: Record<string, string>, remoteAddress: string) =>
    t.app.inject({ method: 'POST', url: '/v1/auth/token', payload, remoteAddress })

  it('audits a password sign-in (the user as actor) and failed ones, known or unknown, without the password', async () => {
    const user = await registerAndLogin(t.app)
    const ip = nextIp()
    const wrong = await signIn({ username: user.email, password: 'guessed-password-1' }, ip)
    const ghost = uniqueEmail('ghost')
    const unknown = await signIn({ username: ghost, password: 'guessed-password-2' }, ip)
    // The caller cannot tell the two apart.
    expect(problemOf(wrong)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(unknown.json()).toEqual(wrong.json())

    const succeeded = await auditLog({ action: 'auth.sign_in', actor_user_id: user.id })
    expect(succeeded).toEqual([
      expect.objectContaining({
        actor_type: 'user',
        subject_type: 'user',
        subject_id: user.id,
        data: expect.objectContaining({ method: 'password', session_id: expect.any(String) }),
      }),
    ])
    const failed = await auditLog({ action: 'auth.sign_in_failed', subject_id: user.id })
    expect(failed).toEqual([
      expect.objectContaining({
        actor_type: 'anonymous',
        actor_user_id: null,
        data: { ip, method: 'password', reason: 'wrong_password' },
      }),
    ])
    const anonymous = await auditLog({ action: 'auth.sign_in_failed', actor_type: 'anonymous' })
    expect(anonymous).toContainEqual(
      expect.objectContaining({
        subject_id: null,
        data: { ip, method: 'password', reason: 'unknown_user', identifier: ghost },
      }),
    )
    const everything = JSON.stringify([...succeeded, ...failed, ...anonymous])
    for (const secret of [user.password, 'guessed-password-1', 'guessed-password-2']) {
      expect(everything).not.toContain(secret)
    }
    // Auditing the unknown address created nothing that names it as a user.
    const rows = await t.deps.db.select().from(users).where(sql`lower(${users.email}) = ${ghost}`)
    expect(rows).toHaveLength(0)
  })

  it('audits a detected refresh-token reuse against the user, without the token', async () => {
    const user = await registerAndLogin(t.app)
    const ip = nextIp()
    const refresh = (token: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: token },
        remoteAddress: ip,
      })
    expect((await refresh(user.refreshToken)).statusCode).toBe(200)
    // Replayed once the reuse interval (another tab refreshing at the same moment) is over.
    t.clock.advance(t.deps.config.REFRESH_REUSE_INTERVAL_SECONDS * 1000)
    expect((await refresh(user.refreshToken)).statusCode).toBe(401)
    const entries = await auditLog({ action: 'auth.refresh_reuse_detected', subject_id: user.id })
    expect(entries).toEqual([
      expect.objectContaining({ actor_type: 'anonymous', data: { ip, session_id: expect.any(String) } }),
    ])
    expect(JSON.stringify(entries)).not.toContain(user.refreshToken)
  })

  it('audits a login-code sign-in and a wrong code, without the code', async () => {
    const user = await registerAndLogin(t.app)
    const ip = nextIp()
    const request = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login-code/request',
      payload: { email: user.email },
      remoteAddress: ip,
    })
    expect(request.statusCode).toBe(202)
    await t.deps.jobs.drain(t.deps)
    const mail = await smtp.waitFor((m) => m.to.includes(user.email) && /code/i.test(m.subject), {
      timeoutMs: 5_000,
    })
    const code = loginCode(mail.text)
    const wrongCode = code === '000000' ? '111111' : '000000'
    const verify = (value: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/login-code/verify',
        payload: { email: user.email, code: value },
        remoteAddress: nextIp(),
      })
    expect((await verify(wrongCode)).statusCode).toBe(401)
    expect((await verify(code)).statusCode).toBe(200)
    const failed = await auditLog({ action: 'auth.sign_in_failed', subject_id: user.id })
    expect(failed).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({ method: 'login_code', reason: 'wrong_code' }),
      }),
    ])
    const succeeded = await auditLog({ action: 'auth.sign_in', actor_user_id: user.id })
    expect(succeeded.map((entry) => entry.data.method).sort()).toEqual(['login_code', 'password'])
    expect(JSON.stringify([...failed, ...succeeded])).not.toContain(code)
  })

  it('audits a rate-limit lockout once per key and window, per identifier and per IP', async () => {
    const ip = nextIp()
    const victim = uniqueEmail('locked')
    const statuses = []
    for (let i = 0; i < 4; i++)
      statuses.push((await signIn({ username: victim, password: 'guessed-password-3' }, ip)).statusCode)
    expect(statuses).toEqual([401, 401, 429, 429])
    const lockouts = () =>
      auditLog({ action: 'auth.rate_limited' }).then((all) => all.filter((e) => e.data.ip === ip))
    // Written after the answer went out.
    await expect
      .poll(async () => (await lockouts()).map((entry) => entry.data.limit), { timeout: 5_000 })
      .toEqual(['per_identifier'])
    // Other usernames from the same address run into the per-IP ceiling (20): one more entry.
    for (let i = 0; i < 18; i++)
      await signIn({ username: uniqueEmail('spray'), password: 'guessed-password-4' }, ip)
    await expect
      .poll(async () => (await lockouts()).map((entry) => entry.data.limit).sort(), { timeout: 5_000 })
      .toEqual(['per_identifier', 'per_ip'])
    const [entry] = await lockouts()
    expect(entry).toMatchObject({
      actor_type: 'anonymous',
      data: { route: '/v1/auth/token', method: 'POST' },
    })
  })

  it('filters the audit log by action (exact or `auth.*`) and by actor type', async () => {
    await registerAndLogin(t.app)
    const auth = await auditLog({ action: 'auth.*' })
    expect(auth.length).toBeGreaterThan(0)
    expect(auth.every((entry) => entry.action.startsWith('auth.'))).toBe(true)
    const anonymous = await auditLog({ actor_type: 'anonymous' })
    expect(anonymous.length).toBeGreaterThan(0)
    expect(anonymous.every((entry) => entry.actor_type === 'anonymous')).toBe(true)
    // `%` and `_` are literal in a prefix, not wildcards.
    expect(await auditLog({ action: 'au%.*' })).toEqual([])
    const bad = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/audit-log?actor_type=robot',
      headers: bearer(adminToken),
    })
    expect(problemOf(bad)).toMatchObject({ status: 400, code: 'validation_failed' })
  })
})
