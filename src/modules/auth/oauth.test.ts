// Google and GitHub sign-in through HTTP against a local fake provider: state and PKCE checks, the
// account rule (existing link, verified email, new user), provider failures and the redirect mode.
import { randomBytes } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  login,
  problemOf,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import {
  type FakeOAuth,
  type FakeProvider,
  type GitHubUser,
  type GoogleUser,
  startFakeOAuth,
} from '../../../test/helpers/fake-oauth.ts'
import type { App } from '../../app.ts'
import { auditLog } from '../audit/tables.ts'
import { oauthAccounts, users } from './tables.ts'

let fake: FakeOAuth
let t: TestApp

beforeAll(async () => {
  fake = await startFakeOAuth()
  // A short provider timeout keeps the "provider hangs" cases quick.
  t = await buildTestApp({ ...fake.env, OAUTH_TIMEOUT_MS: '500' })
})
afterAll(async () => {
  await t?.close()
  await fake?.close()
})
afterEach(() => {
  fake.reset()
})

let sequence = 0
const uniqueId = () => `${Date.now()}${(sequence++).toString().padStart(4, '0')}`

const googleUser = (overrides: Partial<GoogleUser> = {}): GoogleUser => ({
  sub: `1${uniqueId()}`,
  email: uniqueEmail('google'),
  email_verified: true,
  name: 'Grace Hopper',
  picture: 'https://lh3.googleusercontent.com/a/grace',
  ...overrides,
})

const githubUser = (overrides: Partial<GitHubUser> = {}): GitHubUser => {
  const email = overrides.email ?? uniqueEmail('github')
  const id = Number(uniqueId().slice(-12))
  return {
    id,
    login: `octo${id}`,
    name: 'Octo Cat',
    email,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    emails: [{ email, primary: true, verified: true, visibility: 'public' }],
    ...overrides,
  }
}

const cookieOf = (res: LightMyRequestResponse, name: string) =>
  res.cookies.find((cookie) => cookie.name === name)

async function start(provider: FakeProvider, app: App = t.app, query = '') {
  const res = await app.inject({ method: 'GET', url: `/v1/auth/oauth/${provider}/start${query}` })
  expect(res.statusCode, res.body).toBe(302)
  const flow = cookieOf(res, 'oauth_flow')
  expect(flow).toBeDefined()
  return { res, location: String(res.headers.location), flow: flow?.value ?? '' }
}

/** The callback request the browser makes when the provider sends it back, carrying the flow cookie. */
function callback(callbackUrl: string, flowCookie: string | undefined, app: App = t.app) {
  const url = new URL(callbackUrl)
  return app.inject({
    method: 'GET',
    url: `${url.pathname}${url.search}`,
    headers: flowCookie === undefined ? {} : { cookie: `oauth_flow=${flowCookie}` },
  })
}

/** A whole sign-in: /start, consent at the fake provider, /callback. */
async function signIn(
  provider: FakeProvider,
  user: GoogleUser | GitHubUser,
  options: { app?: App; flow?: (flow: string) => string; query?: string } = {},
) {
  const started = await start(provider, options.app, options.query)
  const callbackUrl = await fake.authorize(started.location, { user })
  return callback(callbackUrl, options.flow ? options.flow(started.flow) : started.flow, options.app)
}

const me = (accessToken: string) =>
  t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) })

const usersWithEmail = async (email: string) =>
  t.deps.db.select().from(users).where(sql`lower(${users.email}) = ${email.toLowerCase()}`)

const linksOf = (provider: FakeProvider, providerUserId: string | number) =>
  t.deps.db
    .select()
    .from(oauthAccounts)
    .where(
      and(eq(oauthAccounts.provider, provider), eq(oauthAccounts.providerUserId, String(providerUserId))),
    )

const expectFlowCleared = (res: LightMyRequestResponse) => {
  const cleared = cookieOf(res, 'oauth_flow')
  expect(cleared?.value).toBe('')
  expect(cleared?.path).toBe('/v1/auth/oauth')
  expect(cleared?.expires?.getTime()).toBeLessThanOrEqual(Date.now())
}

describe('GET /v1/auth/oauth/{provider}/start', () => {
  it.each([
    ['google', 'openid email profile'],
    ['github', 'read:user user:email'],
  ] as const)(
    'redirects to %s with state, an S256 PKCE challenge, the scopes and our callback URL',
    async (provider, scope) => {
      const { res, location, flow } = await start(provider)
      const url = new URL(location)
      expect(`${url.origin}${url.pathname}`).toBe(`${fake.url}/${provider}/authorize`)
      expect(Object.fromEntries(url.searchParams)).toMatchObject({
        response_type: 'code',
        client_id: fake.env[provider === 'google' ? 'GOOGLE_CLIENT_ID' : 'GITHUB_CLIENT_ID'],
        redirect_uri: `http://plangate.test/v1/auth/oauth/${provider}/callback`,
        code_challenge_method: 'S256',
        code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        scope,
      })
      // The state travels in the URL and in the cookie; the verifier only in the httpOnly cookie.
      const [cookieProvider, state, verifier] = flow.split('.')
      expect(cookieProvider).toBe(provider)
      expect(url.searchParams.get('state')).toBe(state)
      expect(location).not.toContain(verifier)
      expect(cookieOf(res, 'oauth_flow')).toMatchObject({
        httpOnly: true,
        sameSite: 'Lax',
        path: '/v1/auth/oauth',
        maxAge: 600,
      })
      expect(res.headers['cache-control']).toBe('no-store')
    },
  )

  it('gives every sign-in its own state and verifier', async () => {
    const first = await start('google')
    const second = await start('google')
    expect(first.flow).not.toBe(second.flow)
  })

  it('answers 400 for a provider it does not know', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/auth/oauth/facebook/start' })
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
  })
})

describe('sign-in through Google', () => {
  it('provisions a verified Google user whose tokens work, and signs the same user in the next time', async () => {
    const person = googleUser()
    const res = await signIn('google', person)
    expect(res.statusCode, res.body).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({ token_type: 'bearer', access_token: expect.any(String) })
    expect(cookieOf(res, 'refresh_token')).toMatchObject({ value: body.refresh_token, httpOnly: true })
    expectFlowCleared(res)

    const profile = await me(body.access_token)
    expect(profile.statusCode, profile.body).toBe(200)
    expect(profile.json()).toMatchObject({
      email: person.email,
      name: person.name,
      image_url: person.picture,
      provider: 'google',
      is_verified: true,
      is_active: true,
      is_admin: false,
    })
    const [row] = await usersWithEmail(person.email)
    expect(row?.passwordHash).toBeNull()
    expect(await linksOf('google', person.sub)).toMatchObject([
      { userId: profile.json().id, email: person.email },
    ])

    const again = await signIn('google', person)
    expect(again.statusCode, again.body).toBe(200)
    expect((await me(again.json().access_token)).json().id).toBe(profile.json().id)
    expect(await usersWithEmail(person.email)).toHaveLength(1)
  })

  it('keeps a Google user provisioned with an unverified address unverified', async () => {
    const person = googleUser({ email_verified: false })
    const res = await signIn('google', person)
    expect(res.statusCode, res.body).toBe(200)
    expect((await me(res.json().access_token)).json()).toMatchObject({
      provider: 'google',
      is_verified: false,
    })
  })

  it('signs in by the Google identity, not by the address: a changed email keeps the same user', async () => {
    const person = googleUser()
    const first = await signIn('google', person)
    const second = await signIn('google', { ...person, email: uniqueEmail('renamed') })
    expect(second.statusCode, second.body).toBe(200)
    expect((await me(second.json().access_token)).json().id).toBe(
      (await me(first.json().access_token)).json().id,
    )
  })
})

describe('sign-in through GitHub', () => {
  it('provisions a GitHub user whose tokens work, and signs the same user in the next time', async () => {
    const person = githubUser()
    const res = await signIn('github', person)
    expect(res.statusCode, res.body).toBe(200)
    const profile = await me(res.json().access_token)
    expect(profile.json()).toMatchObject({
      email: person.email,
      name: 'Octo Cat',
      image_url: person.avatar_url,
      provider: 'github',
      is_verified: true,
    })
    expect(await linksOf('github', person.id)).toMatchObject([{ userId: profile.json().id }])

    const again = await signIn('github', person)
    expect(again.statusCode, again.body).toBe(200)
    expect((await me(again.json().access_token)).json().id).toBe(profile.json().id)
  })

  it('takes the verified primary address from /user/emails when the profile shows no public email', async () => {
    const primary = uniqueEmail('private')
    const person = githubUser({
      email: null,
      name: null,
      emails: [
        { email: uniqueEmail('other'), primary: false, verified: false, visibility: null },
        { email: primary, primary: true, verified: true, visibility: 'private' },
      ],
    })
    const res = await signIn('github', person)
    expect(res.statusCode, res.body).toBe(200)
    expect(fake.requests).toContain('GET /github/api/user/emails')
    expect((await me(res.json().access_token)).json()).toMatchObject({
      email: primary,
      name: person.login,
      is_verified: true,
    })
  })

  it('does not take a public address as verified when /user/emails does not say so', async () => {
    const email = uniqueEmail('public')
    const person = githubUser({
      email,
      emails: [{ email, primary: true, verified: false, visibility: 'public' }],
    })
    const res = await signIn('github', person)
    expect(res.statusCode, res.body).toBe(200)
    expect((await me(res.json().access_token)).json()).toMatchObject({ email, is_verified: false })
  })

  it('refuses a GitHub account without any address (401), creating nobody', async () => {
    const person = githubUser({ email: null, emails: [] })
    const res = await signIn('github', person)
    expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(await linksOf('github', person.id)).toHaveLength(0)
  })
})

describe('state and PKCE', () => {
  it('refuses a callback whose state differs from the flow cookie (400), starting no session', async () => {
    const person = googleUser()
    const started = await start('google')
    const callbackUrl = new URL(await fake.authorize(started.location, { user: person }))
    callbackUrl.searchParams.set('state', randomBytes(32).toString('base64url'))
    const res = await callback(callbackUrl.toString(), started.flow)
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
    expect(cookieOf(res, 'refresh_token')).toBeUndefined()
    expectFlowCleared(res)
    expect(await usersWithEmail(person.email)).toHaveLength(0)
    // The code was never exchanged.
    expect(fake.requests).not.toContain('POST /google/token')
  })

  it('refuses a callback without the flow cookie (400): another browser cannot finish the sign-in', async () => {
    const person = googleUser()
    const started = await start('google')
    const res = await callback(await fake.authorize(started.location, { user: person }), undefined)
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
    expect(await usersWithEmail(person.email)).toHaveLength(0)
  })

  it('refuses a flow cookie started for another provider (400)', async () => {
    const google = await start('google')
    const github = await start('github')
    const callbackUrl = await fake.authorize(github.location, { user: githubUser() })
    const [, , verifier] = github.flow.split('.')
    const [, googleState] = google.flow.split('.')
    const url = new URL(callbackUrl)
    url.searchParams.set('state', googleState ?? '')
    const res = await callback(url.toString(), `google.${googleState}.${verifier}`)
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
  })

  it.each([
    ['google', googleUser],
    ['github', githubUser],
  ] as const)(
    'answers 401 when %s refuses the code because the PKCE verifier does not match',
    async (provider, person) => {
      const user = person()
      const tamper = (flow: string) => {
        const [name, state] = flow.split('.')
        return `${name}.${state}.${randomBytes(32).toString('base64url')}`
      }
      const res = await signIn(provider, user, { flow: tamper })
      expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
      expect(fake.requests).toContain(`POST /${provider}/token`)
      expect(cookieOf(res, 'refresh_token')).toBeUndefined()
      expect(await usersWithEmail(user.email ?? '')).toHaveLength(0)
    },
  )

  it('answers 401 when the user declines at the provider', async () => {
    const started = await start('google')
    const res = await callback(await fake.deny(started.location), started.flow)
    expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
    expectFlowCleared(res)
  })
})

describe('existing users', () => {
  it('refuses to link an unverified Google address to an existing password user (409), linking nothing', async () => {
    const owner = await registerAndLogin(t.app)
    const person = googleUser({ email: owner.email.toUpperCase(), email_verified: false })
    const res = await signIn('google', person)
    expect(problemOf(res)).toMatchObject({ status: 409, code: 'conflict' })
    expect(res.json().detail).toMatch(/password/)
    expect(await linksOf('google', person.sub)).toHaveLength(0)
    // The owner's account is untouched.
    expect((await login(t.app, owner.email, owner.password)).token).toEqual(expect.any(String))
  })

  it('refuses to link a GitHub address that /user/emails does not mark verified (409)', async () => {
    const owner = await registerAndLogin(t.app)
    const person = githubUser({
      email: owner.email,
      emails: [{ email: owner.email, primary: true, verified: false, visibility: 'public' }],
    })
    const res = await signIn('github', person)
    expect(problemOf(res)).toMatchObject({ status: 409, code: 'conflict' })
    expect(await linksOf('github', person.id)).toHaveLength(0)
  })

  it('links a verified address to the existing verified user, who keeps the password', async () => {
    const owner = await registerAndLogin(t.app)
    // Set up as verified (the email verification flow is tested elsewhere).
    await t.deps.db.update(users).set({ isVerified: true }).where(eq(users.id, owner.id))
    const person = googleUser({ email: owner.email.toUpperCase() })
    const res = await signIn('google', person)
    expect(res.statusCode, res.body).toBe(200)
    expect((await me(res.json().access_token)).json()).toMatchObject({
      id: owner.id,
      email: owner.email,
      provider: 'local',
    })
    expect(await linksOf('google', person.sub)).toMatchObject([{ userId: owner.id }])
    expect(await usersWithEmail(owner.email)).toHaveLength(1)
    expect((await login(t.app, owner.email, owner.password)).token).toEqual(expect.any(String))
    expect((await me(owner.token)).statusCode).toBe(200)
  })

  it('audits the link of a Google identity to an existing user and the sign-in it starts', async () => {
    const owner = await registerAndLogin(t.app)
    await t.deps.db.update(users).set({ isVerified: true }).where(eq(users.id, owner.id))
    const person = googleUser({ email: owner.email })
    expect((await signIn('google', person)).statusCode).toBe(200)
    const entries = await t.deps.db
      .select()
      .from(auditLog)
      .where(
        and(
          eq(auditLog.subjectId, owner.id),
          sql`${auditLog.action} in ('auth.oauth_linked', 'auth.sign_in')`,
        ),
      )
    expect(entries.map((entry) => [entry.action, entry.data.provider ?? entry.data.method]).sort()).toEqual([
      ['auth.oauth_linked', 'google'],
      ['auth.sign_in', 'oauth_google'],
      ['auth.sign_in', 'password'],
    ])
    // A second sign-in through the same identity links nothing new.
    expect((await signIn('google', person)).statusCode).toBe(200)
    const links = await t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, owner.id), eq(auditLog.action, 'auth.oauth_linked')))
    expect(links).toHaveLength(1)
  })

  it("links a verified address to an unverified password user and ends the unproven password's access (pre-hijacking)", async () => {
    // Whoever registered the address without proving it (perhaps not its owner) must not keep a way in.
    const registrant = await registerAndLogin(t.app)
    const person = githubUser({ email: registrant.email })
    const res = await signIn('github', person)
    expect(res.statusCode, res.body).toBe(200)
    expect((await me(res.json().access_token)).json()).toMatchObject({ id: registrant.id, is_verified: true })
    expect(await linksOf('github', person.id)).toMatchObject([{ userId: registrant.id }])

    const passwordLogin = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/token',
      payload: { username: registrant.email, password: registrant.password },
    })
    expect(problemOf(passwordLogin)).toMatchObject({ status: 401, code: 'unauthorized' })
    const oldRefresh = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refresh_token: registrant.refreshToken },
    })
    expect(problemOf(oldRefresh)).toMatchObject({ status: 401, code: 'unauthorized' })
  })

  it('refuses a deactivated linked user (401)', async () => {
    const person = googleUser()
    const first = await signIn('google', person)
    const userId = (await me(first.json().access_token)).json().id
    // Deactivated directly (the deactivation route is tested elsewhere).
    await t.deps.db.update(users).set({ isActive: false }).where(eq(users.id, userId))
    const res = await signIn('google', person)
    expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(cookieOf(res, 'refresh_token')).toBeUndefined()
  })

  it('refuses to link a verified address to a deactivated password user (401)', async () => {
    const owner = await registerAndLogin(t.app)
    await t.deps.db.update(users).set({ isActive: false }).where(eq(users.id, owner.id))
    const person = googleUser({ email: owner.email })
    const res = await signIn('google', person)
    expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(await linksOf('google', person.sub)).toHaveLength(0)
  })

  it('settles two simultaneous first sign-ins of one identity on one user and one link', async () => {
    const person = googleUser()
    const flows = await Promise.all([start('google'), start('google')])
    const callbacks = await Promise.all(flows.map((flow) => fake.authorize(flow.location, { user: person })))
    const results = await Promise.all(callbacks.map((url, i) => callback(url, flows[i]?.flow)))
    const ids = new Set<string>()
    for (const res of results) {
      expect(res.statusCode, res.body).toBe(200)
      ids.add((await me(res.json().access_token)).json().id)
    }
    expect(ids.size).toBe(1)
    expect(await usersWithEmail(person.email)).toHaveLength(1)
    expect(await linksOf('google', person.sub)).toHaveLength(1)
  })
})

describe('provider failures', () => {
  it.each([
    ['google', 'token', 'error500'],
    ['google', 'userinfo', 'error500'],
    ['github', 'token', 'error500'],
    ['github', 'user', 'error500'],
    ['github', 'emails', 'error500'],
    ['google', 'token', 'hang'],
    ['google', 'userinfo', 'hang'],
    ['github', 'emails', 'hang'],
  ] as const)(
    'answers 503 provider_unavailable when %s %s fails (%s), without its text',
    async (provider, endpoint, mode) => {
      const person = provider === 'google' ? googleUser() : githubUser()
      fake.fail(endpoint, mode)
      const res = await signIn(provider, person)
      expect(problemOf(res)).toMatchObject({ status: 503, code: 'provider_unavailable' })
      expect(res.body).not.toMatch(/secret provider detail/i)
      expect(cookieOf(res, 'refresh_token')).toBeUndefined()
      expect(await usersWithEmail(person.email ?? '')).toHaveLength(0)
    },
  )

  it('answers 503 (not 401) when our client credentials are refused by the provider', async () => {
    const misconfigured = await buildTestApp(
      { ...fake.env, GOOGLE_CLIENT_SECRET: 'wrong-secret', OAUTH_TIMEOUT_MS: '500' },
      { testDb: t.testDb },
    )
    try {
      const res = await signIn('google', googleUser(), { app: misconfigured.app })
      expect(problemOf(res)).toMatchObject({ status: 503, code: 'provider_unavailable' })
    } finally {
      await misconfigured.close()
    }
  })
})

describe('configuration', () => {
  it('answers 404 for a provider without client id and secret, on start and callback', async () => {
    const googleOnly = await buildTestApp(
      Object.fromEntries(Object.entries(fake.env).filter(([name]) => !name.startsWith('GITHUB_CLIENT'))),
      { testDb: t.testDb },
    )
    try {
      const startRes = await googleOnly.app.inject({ method: 'GET', url: '/v1/auth/oauth/github/start' })
      expect(problemOf(startRes)).toMatchObject({ status: 404, code: 'not_found' })
      expect(cookieOf(startRes, 'oauth_flow')).toBeUndefined()
      const callbackRes = await googleOnly.app.inject({
        method: 'GET',
        url: '/v1/auth/oauth/github/callback?code=x&state=y',
        headers: { cookie: 'oauth_flow=github.y.z' },
      })
      expect(problemOf(callbackRes)).toMatchObject({ status: 404, code: 'not_found' })
      expect((await start('google', googleOnly.app)).location).toContain('/google/authorize')
    } finally {
      await googleOnly.close()
    }
  })

  it('redirects to OAUTH_SUCCESS_URL with only the refresh cookie set when it is configured', async () => {
    const successUrl = 'https://app.example.test/signed-in'
    const redirecting = await buildTestApp(
      { ...fake.env, OAUTH_SUCCESS_URL: successUrl },
      { testDb: t.testDb },
    )
    try {
      const person = githubUser()
      const res = await signIn('github', person, { app: redirecting.app })
      expect(res.statusCode, res.body).toBe(302)
      expect(res.headers.location).toBe(successUrl)
      const refresh = cookieOf(res, 'refresh_token')
      expect(refresh).toMatchObject({ httpOnly: true, path: '/v1/auth', sameSite: 'Strict' })
      expectFlowCleared(res)
      // The page exchanges the cookie for an access token.
      const tokens = await redirecting.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        headers: { cookie: `refresh_token=${refresh?.value}` },
      })
      expect(tokens.statusCode, tokens.body).toBe(200)
      expect((await me(tokens.json().access_token)).json()).toMatchObject({ email: person.email })
    } finally {
      await redirecting.close()
    }
  })

  it('rate limits the callback per client IP', async () => {
    const limited = await buildTestApp({ ...fake.env, AUTH_RATE_LIMIT_PER_MINUTE: '2' }, { testDb: t.testDb })
    try {
      const statuses: number[] = []
      for (let i = 0; i < 3; i++) {
        const res = await limited.app.inject({
          method: 'GET',
          url: '/v1/auth/oauth/google/callback?code=x&state=y',
        })
        statuses.push(res.statusCode)
      }
      expect(statuses).toEqual([400, 400, 429])
    } finally {
      await limited.close()
    }
  })
})

describe('GET /v1/auth/providers', () => {
  it('lists password, login codes and the configured providers with their start URLs, to anyone', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/auth/providers' })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toEqual({
      password: true,
      login_code: true,
      oauth: [
        { provider: 'google', label: 'Google', start_url: '/v1/auth/oauth/google/start' },
        { provider: 'github', label: 'GitHub', start_url: '/v1/auth/oauth/github/start' },
      ],
    })
  })

  it('leaves out a provider without client id and secret, and lists none when none is set', async () => {
    const withoutGitHub = Object.fromEntries(
      Object.entries(fake.env).filter(([name]) => !name.startsWith('GITHUB_CLIENT')),
    )
    const googleOnly = await buildTestApp(withoutGitHub, { testDb: t.testDb })
    const none = await buildTestApp({}, { testDb: t.testDb })
    try {
      const google = await googleOnly.app.inject({ method: 'GET', url: '/v1/auth/providers' })
      expect(google.json().oauth).toEqual([
        { provider: 'google', label: 'Google', start_url: '/v1/auth/oauth/google/start' },
      ])
      const plain = await none.app.inject({ method: 'GET', url: '/v1/auth/providers' })
      expect(plain.json()).toEqual({ password: true, login_code: true, oauth: [] })
    } finally {
      await googleOnly.close()
      await none.close()
    }
  })
})

describe('browser sign-in from the web UI (redirect=app)', () => {
  const landing = (res: LightMyRequestResponse) => {
    expect(res.statusCode, res.body).toBe(302)
    const url = new URL(String(res.headers.location))
    expect(`${url.origin}${url.pathname}`).toBe('http://plangate.test/sign-in')
    return Object.fromEntries(url.searchParams)
  }

  it('ends on the UI sign-in page with only the refresh cookie set, which the page exchanges for a session', async () => {
    const person = googleUser()
    const next = '/app/accounts/0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01?tab=plan'
    const res = await signIn('google', person, { query: `?redirect=app&next=${encodeURIComponent(next)}` })
    expect(landing(res)).toEqual({ oauth: 'complete', next })
    // No token in the URL or the body: the refresh cookie is the only credential handed out.
    expect(res.body).toBe('')
    expect(String(res.headers.location)).not.toContain('pgr_')
    const refresh = cookieOf(res, 'refresh_token')
    expect(refresh).toMatchObject({ httpOnly: true, path: '/v1/auth', sameSite: 'Strict' })
    expectFlowCleared(res)
    const tokens = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      headers: { cookie: `refresh_token=${refresh?.value}` },
    })
    expect(tokens.statusCode, tokens.body).toBe(200)
    expect((await me(tokens.json().access_token)).json()).toMatchObject({ email: person.email })
  })

  it('lands on /app by default, and takes precedence over OAUTH_SUCCESS_URL', async () => {
    const redirecting = await buildTestApp(
      { ...fake.env, OAUTH_SUCCESS_URL: 'https://app.example.test/signed-in' },
      { testDb: t.testDb },
    )
    try {
      const res = await signIn('github', githubUser(), { app: redirecting.app, query: '?redirect=app' })
      expect(landing(res)).toEqual({ oauth: 'complete', next: '/app' })
      expect(cookieOf(res, 'refresh_token')?.value).toBeTruthy()
    } finally {
      await redirecting.close()
    }
  })

  it('sends a refused sign-in back to the UI with the problem code, signing nobody in', async () => {
    const declined = await start('google', t.app, '?redirect=app&next=%2Fapp')
    const res = await callback(await fake.deny(declined.location), declined.flow)
    expect(landing(res)).toEqual({ oauth_error: 'unauthorized', next: '/app' })
    expect(cookieOf(res, 'refresh_token')).toBeUndefined()
    expectFlowCleared(res)

    // An existing password user's address, which Google does not vouch for: 409 conflict.
    const owner = await registerAndLogin(t.app)
    const unverified = await signIn('google', googleUser({ email: owner.email, email_verified: false }), {
      query: '?redirect=app',
    })
    expect(landing(unverified)).toMatchObject({ oauth_error: 'conflict' })
    expect(cookieOf(unverified, 'refresh_token')).toBeUndefined()
  })

  it('answers the problem when the flow cookie is missing: nothing says the browser came from the UI', async () => {
    const started = await start('google', t.app, '?redirect=app')
    const res = await callback(await fake.authorize(started.location, { user: googleUser() }), undefined)
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
  })

  it.each(['https://evil.example/app', '//evil.example/app', '/\\evil.example', 'app', '/app with space'])(
    'refuses %s as the page to land on (400), setting no flow',
    async (next) => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/auth/oauth/google/start?redirect=app&next=${encodeURIComponent(next)}`,
      })
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(cookieOf(res, 'oauth_flow')).toBeUndefined()
    },
  )

  it('does not land a tampered flow cookie off-site: an unsafe path makes it an API sign-in', async () => {
    const person = googleUser()
    const tamper = (flow: string) =>
      `${flow.split('.').slice(0, 3).join('.')}.${Buffer.from('//evil.example').toString('base64url')}`
    const res = await signIn('google', person, { query: '?redirect=app', flow: tamper })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ token_type: 'bearer' })
  })
})
