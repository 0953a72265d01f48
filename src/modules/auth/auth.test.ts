// Registration, sign-in, refresh rotation with reuse detection, logout, the profile, the bootstrap
// admin and deactivation, all through HTTP. The JWT side (keys, forgery) is in tokens.test.ts.
import { eq } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adminCredentials,
  bearer,
  buildTestApp,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import { users } from './tables.ts'

const password = 'correct-horse-battery-staple'
const userFields = [
  'created_at',
  'email',
  'id',
  'image_url',
  'is_active',
  'is_admin',
  'is_verified',
  'name',
  'provider',
  'updated_at',
  'username',
]
const uniqueUsername = (prefix = 'u') =>
  uniqueEmail(prefix)
    .split('@')[0]
    ?.replace(/[^A-Za-z0-9_.-]/g, '_') ?? prefix
const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(fields).toString(),
})

describe('auth', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  const register = (payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/auth/register', payload })
  const token = (payload: Record<string, unknown>) =>
    t.app.inject({ method: 'POST', url: '/v1/auth/token', payload })
  const refresh = (refreshToken: string) =>
    t.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refresh_token: refreshToken } })
  const me = (accessToken: string) =>
    t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) })

  function expectTokenPair(res: LightMyRequestResponse) {
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'bearer',
      expires_in: 900,
      refresh_token: expect.any(String),
    })
    expect(res.headers['cache-control']).toBe('no-store')
    return body as { access_token: string; refresh_token: string }
  }

  describe('register', () => {
    it('answers 202 accepted and creates the user, whose profile never shows a password or hash field', async () => {
      const email = uniqueEmail('reg')
      const username = uniqueUsername('reg')
      const res = await register({ email, password, username, name: 'Ann' })
      expect(res.statusCode, res.body).toBe(202)
      expect(res.json()).toEqual({ status: 'accepted' })
      const pair = expectTokenPair(await token({ username: email, password }))
      const profile = await me(pair.access_token)
      const body = profile.json()
      expect(Object.keys(body).sort()).toEqual(userFields)
      expect(body).toMatchObject({
        email,
        username,
        name: 'Ann',
        image_url: null,
        provider: 'local',
        is_admin: false,
        is_active: true,
        is_verified: false,
      })
      expect(profile.body).not.toMatch(/password|hash|argon/i)
    })

    it('answers an email already registered in another case exactly as a new one, and keeps the first password', async () => {
      const email = uniqueEmail('dup')
      const first = await register({ email, password })
      expect(first.statusCode).toBe(202)
      const again = await register({ email: email.toUpperCase(), password: 'another-long-passphrase-9' })
      expect(again.statusCode).toBe(202)
      expect(again.body).toBe(first.body)
      expectTokenPair(await token({ username: email, password }))
      expect(
        problemOf(await token({ username: email, password: 'another-long-passphrase-9' })),
      ).toMatchObject({
        status: 401,
      })
    })

    it('refuses a username already taken (whatever its case) with 409 conflict', async () => {
      const username = uniqueUsername('taken')
      expect((await register({ email: uniqueEmail(), password, username })).statusCode).toBe(202)
      const again = await register({ email: uniqueEmail(), password, username: username.toUpperCase() })
      expect(problemOf(again)).toMatchObject({ status: 409, code: 'conflict' })
    })

    it('refuses an invalid email or a short password with 400 validation_failed and field errors', async () => {
      const badEmail = await register({ email: 'not-an-email', password })
      expect(problemOf(badEmail)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(badEmail.json().errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ location: 'body.email' })]),
      )

      const shortPassword = await register({ email: uniqueEmail(), password: 'short' })
      expect(problemOf(shortPassword)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(shortPassword.json().errors).toEqual([
        expect.objectContaining({ location: 'body.password', message: expect.any(String) }),
      ])
    })
  })

  describe('POST /v1/auth/token', () => {
    it('signs in with JSON {username, password} using the email (any case) or the username', async () => {
      const email = uniqueEmail('login')
      const username = uniqueUsername('login')
      expect((await register({ email, password, username })).statusCode).toBe(202)
      const userId = (
        await me(expectTokenPair(await token({ username: email, password })).access_token)
      ).json().id

      for (const identifier of [email, email.toUpperCase(), username]) {
        const pair = expectTokenPair(await token({ username: identifier, password }))
        const profile = await me(pair.access_token)
        expect(profile.statusCode).toBe(200)
        expect(profile.json().id).toBe(userId)
      }
    })

    it('accepts the OAuth2 form grant_type=password and grant_type=refresh_token', async () => {
      const user = await registerAndLogin(t.app)
      const byPassword = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/token',
        ...form({ grant_type: 'password', username: user.email, password: user.password }),
      })
      const first = expectTokenPair(byPassword)
      expect((await me(first.access_token)).json().id).toBe(user.id)

      const byRefresh = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/token',
        ...form({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
      })
      const second = expectTokenPair(byRefresh)
      expect(second.refresh_token).not.toBe(first.refresh_token)
      expect((await me(second.access_token)).json().id).toBe(user.id)
    })

    it('sets the refresh token as an httpOnly, SameSite=Strict cookie scoped to /v1/auth', async () => {
      const user = await registerAndLogin(t.app)
      const res = await token({ username: user.email, password: user.password })
      const pair = expectTokenPair(res)
      const cookie = res.cookies.find((c) => c.name === 'refresh_token')
      expect(cookie).toMatchObject({
        value: pair.refresh_token,
        httpOnly: true,
        sameSite: 'Strict',
        path: '/v1/auth',
      })
    })

    it('accepts {email, password} in JSON, as registration names the user (hardening 11a)', async () => {
      const user = await registerAndLogin(t.app)
      const byEmail = expectTokenPair(await token({ email: user.email, password: user.password }))
      expect((await me(byEmail.access_token)).json().id).toBe(user.id)
      // Trimmed and case-folded exactly as `username` is.
      const padded = expectTokenPair(
        await token({ email: ` ${user.email.toUpperCase()} `, password: user.password }),
      )
      expect((await me(padded.access_token)).json().id).toBe(user.id)
      // Neither, or both: a clear 400 naming the field.
      const neither = await token({ password: user.password })
      expect(problemOf(neither)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(neither.json().errors).toEqual([expect.objectContaining({ location: 'body.username' })])
      const both = await token({ username: user.email, email: user.email, password: user.password })
      expect(problemOf(both)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(both.json().errors).toEqual([expect.objectContaining({ location: 'body.email' })])
    })

    it('answers a wrong password and an unknown user with the same 401 problem', async () => {
      const user = await registerAndLogin(t.app)
      const wrongPassword = await token({ username: user.email, password: 'not-the-password' })
      const unknownUser = await token({ username: uniqueEmail('ghost'), password: 'not-the-password' })
      expect(problemOf(wrongPassword)).toMatchObject({ status: 401, code: 'unauthorized' })
      expect(unknownUser.statusCode).toBe(wrongPassword.statusCode)
      expect(unknownUser.headers['content-type']).toBe(wrongPassword.headers['content-type'])
      expect(unknownUser.json()).toEqual(wrongPassword.json())
      expect(wrongPassword.json()).toMatchObject({ title: 'Unauthorized', detail: expect.any(String) })
      expect(wrongPassword.cookies).toEqual([])
    })
  })

  describe('refresh rotation', () => {
    it('exchanges a refresh token from the body for a new working pair', async () => {
      const user = await registerAndLogin(t.app)
      const next = expectTokenPair(await refresh(user.refreshToken))
      expect(next.refresh_token).not.toBe(user.refreshToken)
      expect((await me(next.access_token)).json().id).toBe(user.id)
    })

    it('exchanges the refresh cookie for a new pair and sets the new cookie', async () => {
      const user = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        cookies: { refresh_token: user.refreshToken },
      })
      const next = expectTokenPair(res)
      expect(res.cookies.find((c) => c.name === 'refresh_token')?.value).toBe(next.refresh_token)
      expect((await me(next.access_token)).statusCode).toBe(200)
    })

    it('treats a spent refresh token as theft: 401 and the whole sign-in is revoked', async () => {
      const user = await registerAndLogin(t.app)
      const otherSignIn = await token({ username: user.email, password: user.password })
      const other = expectTokenPair(otherSignIn)

      const second = expectTokenPair(await refresh(user.refreshToken))
      // Replayed once the reuse interval (another tab refreshing at the same moment) is over.
      t.clock.advance(t.deps.config.REFRESH_REUSE_INTERVAL_SECONDS * 1000)
      const replay = await refresh(user.refreshToken)
      expect(problemOf(replay)).toMatchObject({ status: 401, code: 'unauthorized' })

      // The newest token of the replayed family is dead too...
      expect(problemOf(await refresh(second.refresh_token))).toMatchObject({
        status: 401,
        code: 'unauthorized',
      })
      // ...while the user's other sign-in keeps working.
      expectTokenPair(await refresh(other.refresh_token))
    })

    it('refuses a missing, unknown or malformed refresh token with 401', async () => {
      const none = await t.app.inject({ method: 'POST', url: '/v1/auth/refresh' })
      expect(problemOf(none)).toMatchObject({ status: 401, code: 'unauthorized' })
      const unknown = await refresh('x'.repeat(43))
      expect(problemOf(unknown)).toMatchObject({ status: 401, code: 'unauthorized' })
    })
  })

  describe('logout', () => {
    it('revokes the sign-in of the refresh token given in the body', async () => {
      const user = await registerAndLogin(t.app)
      const out = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        payload: { refresh_token: user.refreshToken },
      })
      expect(out.statusCode).toBe(204)
      expect(problemOf(await refresh(user.refreshToken))).toMatchObject({ status: 401, code: 'unauthorized' })
    })

    it('revokes the whole family, including tokens rotated after sign-in, when given the cookie', async () => {
      const user = await registerAndLogin(t.app)
      const rotated = expectTokenPair(await refresh(user.refreshToken))
      const out = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        cookies: { refresh_token: rotated.refresh_token },
      })
      expect(out.statusCode).toBe(204)
      const cleared = out.cookies.find((c) => c.name === 'refresh_token')
      expect(cleared?.value).toBe('')
      expect(problemOf(await refresh(rotated.refresh_token))).toMatchObject({ status: 401 })
    })

    it('answers 204 without any token, and with an unknown one', async () => {
      expect((await t.app.inject({ method: 'POST', url: '/v1/auth/logout' })).statusCode).toBe(204)
      const unknown = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        payload: { refresh_token: 'not-a-real-token' },
      })
      expect(unknown.statusCode).toBe(204)
    })
  })

  describe('/v1/me', () => {
    it('returns the current user without secret fields', async () => {
      const user = await registerAndLogin(t.app)
      const res = await me(user.token)
      expect(res.statusCode).toBe(200)
      expect(Object.keys(res.json()).sort()).toEqual(userFields)
      expect(res.json()).toMatchObject({ id: user.id, email: user.email, is_admin: false })
      expect(res.body).not.toMatch(/password|hash/i)
    })

    it('updates name, username and image_url, and clears the name with null', async () => {
      const user = await registerAndLogin(t.app)
      const username = uniqueUsername('me')
      const patch = (payload: Record<string, unknown>) =>
        t.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(user.token), payload })

      const updated = await patch({ name: 'Bea', username, image_url: 'https://img.example.test/bea.png' })
      expect(updated.statusCode, updated.body).toBe(200)
      expect(updated.json()).toMatchObject({
        name: 'Bea',
        username,
        image_url: 'https://img.example.test/bea.png',
      })
      expect((await me(user.token)).json()).toMatchObject({ name: 'Bea', username })

      const cleared = await patch({ name: null })
      expect(cleared.json()).toMatchObject({ name: null, username })
    })

    it('refuses a username another user has (in any case) with 409 conflict', async () => {
      const username = uniqueUsername('owner')
      await register({ email: uniqueEmail(), password, username })
      const user = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(user.token),
        payload: { username: username.toUpperCase() },
      })
      expect(problemOf(res)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await me(user.token)).json().username).toBeNull()
    })

    it('refuses unknown or protected fields with 400 validation_failed', async () => {
      const user = await registerAndLogin(t.app)
      for (const payload of [{ favourite_colour: 'red' }, { is_admin: true }, { email: uniqueEmail() }]) {
        const res = await t.app.inject({
          method: 'PATCH',
          url: '/v1/me',
          headers: bearer(user.token),
          payload,
        })
        expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      }
      const badUrl = await t.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(user.token),
        payload: { image_url: 'javascript:alert(1)' },
      })
      expect(problemOf(badUrl)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect((await me(user.token)).json()).toMatchObject({
        is_admin: false,
        email: user.email,
        image_url: null,
      })
    })
  })

  describe('admin bootstrap', () => {
    it('lets the ADMIN_EMAIL/ADMIN_PASSWORD admin sign in as a site admin; a registered user is not one', async () => {
      const adminToken = await loginAdmin(t.app)
      const admin = await me(adminToken)
      expect(admin.statusCode).toBe(200)
      expect(admin.json()).toMatchObject({ email: adminCredentials.email, is_admin: true, is_verified: true })

      const user = await registerAndLogin(t.app)
      expect((await me(user.token)).json().is_admin).toBe(false)
    })
  })

  describe('deactivation', () => {
    it('locks a user deactivated in the database out at once: API calls, refresh and login', async () => {
      const { owner, account } = await subscribedAccount(t.app)
      const entitlements = () =>
        t.app.inject({
          method: 'GET',
          url: `/v1/accounts/${account.id}/entitlements`,
          headers: bearer(owner.token),
        })
      expect((await me(owner.token)).statusCode).toBe(200)
      expect((await entitlements()).statusCode).toBe(200)
      const wrongPassword = await token({ username: owner.email, password: 'not-the-password' })

      await t.deps.db.update(users).set({ isActive: false }).where(eq(users.id, owner.id))

      expect(problemOf(await me(owner.token))).toMatchObject({ status: 401, code: 'unauthorized' })
      expect(problemOf(await entitlements())).toMatchObject({ status: 401, code: 'unauthorized' })
      // The single-statement hot paths check the user too, with the same answer as the guards.
      const hotPaths = [
        {
          method: 'POST' as const,
          url: `/v1/accounts/${account.id}/bookings`,
          payload: { customer_name: 'A', starts_at: '2031-01-01T10:00:00Z' },
        },
        { method: 'POST' as const, url: `/v1/accounts/${account.id}/staff`, payload: { name: 'Ann' } },
        {
          method: 'POST' as const,
          url: `/v1/accounts/${account.id}/usage`,
          payload: { feature: 'staff', quantity: -1 },
        },
        {
          method: 'POST' as const,
          url: `/v1/accounts/${account.id}/usage`,
          payload: { feature: 'staff', quantity: 1 },
        },
      ]
      for (const request of hotPaths) {
        const res = await t.app.inject({ ...request, headers: bearer(owner.token) })
        expect(problemOf(res), request.url).toMatchObject({ status: 401, code: 'unauthorized' })
      }
      expect(problemOf(await refresh(owner.refreshToken))).toMatchObject({
        status: 401,
        code: 'unauthorized',
      })
      const login = await token({ username: owner.email, password: owner.password })
      expect(login.statusCode).toBe(401)
      expect(login.json()).toEqual(wrongPassword.json())
    })
  })
})

describe('refresh lifetimes', () => {
  const minutes = (n: number) => n * 60_000

  it('refuses a refresh past SESSION_MAX_AGE even when every token in the chain is fresh', async () => {
    const t = await buildTestApp({ SESSION_MAX_AGE: '2h', REFRESH_TOKEN_TTL: '1h' })
    try {
      const user = await registerAndLogin(t.app)
      let current = user.refreshToken
      // Refreshing every 50 minutes keeps each token well inside its 1h TTL...
      for (let i = 0; i < 2; i++) {
        t.clock.advance(minutes(50))
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/refresh',
          payload: { refresh_token: current },
        })
        expect(res.statusCode, res.body).toBe(200)
        current = res.json().refresh_token
      }
      // ...but the sign-in is 150 minutes old, past its 2h absolute lifetime.
      t.clock.advance(minutes(50))
      const late = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: current },
      })
      expect(problemOf(late)).toMatchObject({ status: 401, code: 'unauthorized' })
    } finally {
      await t.close()
    }
  })

  it('refuses a refresh token older than REFRESH_TOKEN_TTL, and accepts it just before', async () => {
    const t = await buildTestApp({ SESSION_MAX_AGE: '30d', REFRESH_TOKEN_TTL: '1h' })
    try {
      const fresh = await registerAndLogin(t.app)
      const stale = await registerAndLogin(t.app)
      t.clock.advance(minutes(59))
      const inTime = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: fresh.refreshToken },
      })
      expect(inTime.statusCode, inTime.body).toBe(200)
      t.clock.advance(minutes(2))
      const late = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refresh_token: stale.refreshToken },
      })
      expect(problemOf(late)).toMatchObject({ status: 401, code: 'unauthorized' })
    } finally {
      await t.close()
    }
  })
})

// Hardening 11a: the password minimum is one number, PASSWORD_MIN_LENGTH, in validation, messages
// and the OpenAPI document; and passwords are compared in Unicode NFC (NIST SP 800-63B).
describe('password rules', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ PASSWORD_MIN_LENGTH: '14' })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('states the configured minimum in every password validation, its message and the OpenAPI document', async () => {
    const thirteen = 'Qz7#mUv!rT2$k'
    expect(thirteen).toHaveLength(13)
    const register = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: uniqueEmail(), password: thirteen },
    })
    expect(problemOf(register)).toMatchObject({ status: 400, code: 'validation_failed' })
    expect(register.json().errors).toEqual([{ location: 'body.password', message: 'at least 14 characters' }])

    const user = await registerAndLogin(t.app)
    const change = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/password/change',
      headers: bearer(user.token),
      payload: { current_password: user.password, new_password: thirteen },
    })
    expect(change.json().errors).toEqual([
      { location: 'body.new_password', message: 'at least 14 characters' },
    ])
    const reset = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/password/reset',
      payload: { token: 'any-token', new_password: thirteen },
    })
    expect(reset.json().errors).toEqual([
      { location: 'body.new_password', message: 'at least 14 characters' },
    ])

    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()
    const bodySchema = (path: string) => {
      const schema = document.paths[path].post.requestBody.content['application/json'].schema
      const ref = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop() : undefined
      return ref ? document.components.schemas[ref] : schema
    }
    expect(bodySchema('/v1/auth/register').properties.password.minLength).toBe(14)
    expect(bodySchema('/v1/auth/password/change').properties.new_password.minLength).toBe(14)
    expect(bodySchema('/v1/auth/password/reset').properties.new_password.minLength).toBe(14)
    expect(bodySchema('/v1/auth/register').properties.password.description).toContain(
      'at least 14 characters',
    )
  })

  it('signs in with a password typed in another Unicode form (NFD vs NFC) of the same characters', async () => {
    const composed = 'crème-brûlée-à-la-façon-14'.normalize('NFC')
    const decomposed = composed.normalize('NFD')
    expect(decomposed).not.toBe(composed)
    const user = await registerAndLogin(t.app, { password: decomposed })
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { username: user.email, password: composed },
    })
    expect(res.statusCode, res.body).toBe(200)
  })
})
