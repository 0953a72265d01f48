// Hardening item 3: an access token carries its session (`sid`), and a revoked session's access
// tokens stop working on the next request, on the guarded routes and on every hot path (whose one
// statement checks the session beside `users.is_active`). Before the fix, an attacker who had
// signed in kept API access for the token's lifetime after logout, reset, change or deactivation.
import { and, eq } from 'drizzle-orm'
import type { InjectOptions } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  login,
  loginAdmin,
  registerAndLogin,
  subscribe,
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'
import { linkToken, type SmtpSink, startSmtpSink } from '../../../test/helpers/smtp.ts'
import { newId } from '../../core/ids.ts'
import { auditLog } from '../audit/tables.ts'

const newPassword = 'violet-submarine-orchestra-47'

describe('access tokens of an ended session', () => {
  let t: TestApp
  let smtp: SmtpSink
  let planCode: string
  let day = 0

  beforeAll(async () => {
    smtp = await startSmtpSink()
    t = await buildTestApp({ SMTP_URL: smtp.url })
    // A plan with room for every probe below, including a metered feature for the usage API.
    const admin = await loginAdmin(t.app)
    planCode = uniqueCode('revocation')
    const plan = await t.app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(admin),
      payload: {
        code: planCode,
        name: 'Revocation',
        price_cents: 1000,
        limits: { staff: 50, bookings_per_day: 50, api_calls_per_month: 100 },
      },
    })
    expect(plan.statusCode, plan.body).toBe(201)
  })
  afterAll(async () => {
    await t?.close()
    await smtp?.close()
  })
  beforeEach(() => smtp.clear())

  async function ownerWithAccount(): Promise<{ owner: TestUser; accountId: string }> {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token)
    await subscribe(t.app, owner.token, account.id, planCode)
    return { owner, accountId: account.id }
  }

  /** The status of a guarded read, a membership-guarded read and each hot path, with this token. */
  async function probe(token: string, accountId: string) {
    const headers = bearer(token)
    const url = `/v1/accounts/${accountId}`
    const status = async (request: InjectOptions) => (await t.app.inject(request)).statusCode
    day++
    return {
      me: await status({ method: 'GET', url: '/v1/me', headers }),
      account: await status({ method: 'GET', url, headers }),
      entitlements: await status({ method: 'GET', url: `${url}/entitlements`, headers }),
      staff: await status({ method: 'POST', url: `${url}/staff`, headers, payload: { name: 'Ann' } }),
      booking: await status({
        method: 'POST',
        url: `${url}/bookings`,
        headers,
        payload: { customer_name: 'Zoé', starts_at: `2031-01-${String(day).padStart(2, '0')}T10:00:00Z` },
      }),
      usage: await status({
        method: 'POST',
        url: `${url}/usage`,
        headers,
        payload: { feature: 'api_calls_per_month', quantity: 1 },
      }),
      check: await status({
        method: 'POST',
        url: `${url}/check`,
        headers,
        payload: { feature: 'staff', quantity: 1 },
      }),
    }
  }

  const working = {
    me: 200,
    account: 200,
    entitlements: 200,
    staff: 201,
    booking: 201,
    usage: 200,
    check: 200,
  }
  const refused = {
    me: 401,
    account: 401,
    entitlements: 401,
    staff: 401,
    booking: 401,
    usage: 401,
    check: 401,
  }

  const auditActions = async (userId: string, action: string) =>
    t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, userId), eq(auditLog.action, action)))

  it('after logout, the access token of that sign-in gets 401 on guarded routes and every hot path', async () => {
    const { owner, accountId } = await ownerWithAccount()
    expect(await probe(owner.token, accountId)).toEqual(working)
    const logout = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refresh_token: owner.refreshToken },
    })
    expect(logout.statusCode).toBe(204)
    expect(await probe(owner.token, accountId)).toEqual(refused)
    expect(await auditActions(owner.id, 'auth.logout')).toHaveLength(1)
  })

  it('after logout with only the access token, that sign-in ends, and no other sign-in does', async () => {
    const { owner, accountId } = await ownerWithAccount()
    const other = await login(t.app, owner.email, owner.password)
    const logout = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(owner.token),
    })
    expect(logout.statusCode).toBe(204)
    expect(await probe(owner.token, accountId)).toEqual(refused)
    const refresh = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: owner.refreshToken },
    })
    expect(refresh.statusCode).toBe(401)
    expect(await probe(other.token, accountId)).toEqual(working)
    expect(await auditActions(owner.id, 'auth.logout')).toHaveLength(1)
  })

  it("after an account-recovery password reset, the attacker's access token gets 401 everywhere", async () => {
    const { owner, accountId } = await ownerWithAccount()
    // The attacker signed in with the stolen password; the owner then recovers the account.
    const attacker = await login(t.app, owner.email, owner.password)
    expect(await probe(attacker.token, accountId)).toEqual(working)
    const forgot = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/password/forgot',
      payload: { email: owner.email },
    })
    expect(forgot.statusCode).toBe(202)
    await t.deps.jobs.drain(t.deps)
    const mail = await smtp.waitFor((m) => m.to.includes(owner.email) && /reset/i.test(m.subject), {
      timeoutMs: 5_000,
    })
    const reset = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/password/reset',
      payload: { token: linkToken(mail.text), new_password: newPassword },
    })
    expect(reset.statusCode, reset.body).toBe(204)
    expect(await probe(attacker.token, accountId)).toEqual(refused)
    expect(await probe(owner.token, accountId)).toEqual(refused)
    const [entry] = await auditActions(owner.id, 'auth.password_reset')
    expect(entry).toMatchObject({ actorType: 'user', actorUserId: owner.id })
    expect(JSON.stringify(entry)).not.toContain(newPassword)
  })

  it('after a password change, the other sessions get 401 everywhere while the one that changed it keeps working', async () => {
    const { owner, accountId } = await ownerWithAccount()
    const other = await login(t.app, owner.email, owner.password)
    expect(await probe(other.token, accountId)).toEqual(working)
    const change = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/password/change',
      headers: bearer(owner.token),
      payload: { current_password: owner.password, new_password: newPassword },
    })
    expect(change.statusCode, change.body).toBe(204)
    expect(await probe(other.token, accountId)).toEqual(refused)
    expect(await probe(owner.token, accountId)).toEqual(working)
    const [entry] = await auditActions(owner.id, 'auth.password_changed')
    expect(entry).toMatchObject({ actorType: 'user', actorUserId: owner.id })
    expect(JSON.stringify(entry)).not.toContain(newPassword)
    expect(JSON.stringify(entry)).not.toContain(owner.password)
  })

  it('after deactivation, every access token of the user gets 401 everywhere', async () => {
    const { owner, accountId } = await ownerWithAccount()
    const other = await login(t.app, owner.email, owner.password)
    const deactivate = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/deactivate',
      headers: bearer(owner.token),
    })
    expect(deactivate.statusCode).toBe(204)
    expect(await probe(owner.token, accountId)).toEqual(refused)
    expect(await probe(other.token, accountId)).toEqual(refused)
    expect(await auditActions(owner.id, 'auth.deactivated')).toHaveLength(1)
  })

  it('refuses a correctly signed token whose session does not exist, or that names no session', async () => {
    const { owner, accountId } = await ownerWithAccount()
    const now = t.clock.now()
    const unknownSession = await t.deps.tokens.sign({ userId: owner.id, sessionId: newId() }, now)
    expect(await probe(unknownSession, accountId)).toEqual(refused)
    const noSession = await t.deps.tokens.sign({ userId: owner.id, sessionId: '' }, now)
    expect(await probe(noSession, accountId)).toEqual(refused)
    // Another user's live session does not vouch for this user.
    const stranger = await registerAndLogin(t.app)
    const strangerSession = (await t.deps.tokens.verify(stranger.token, now)).sessionId
    const borrowed = await t.deps.tokens.sign({ userId: owner.id, sessionId: strangerSession }, now)
    expect(await probe(borrowed, accountId)).toEqual(refused)
    expect(await probe(owner.token, accountId)).toEqual(working)
  })
})
