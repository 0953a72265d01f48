// The refresh reuse interval (PRODUCT.md §10): tabs of one browser share one refresh cookie, so a
// token may come back a moment after another tab rotated it. Within REFRESH_REUSE_INTERVAL_SECONDS
// it gets a new sibling pair of the same sign-in; later it still revokes the whole sign-in. Plain
// rotation and theft detection are in auth.test.ts.
import { eq } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, problemOf, registerAndLogin, type TestApp } from '../../../test/helpers/app.ts'
import { sha256 } from '../../core/crypto.ts'
import { refreshFamilies, refreshTokens, users } from './tables.ts'

type App = TestApp['app']

const refresh = (app: App, refreshToken: string) =>
  app.inject({ method: 'POST', url: '/v1/auth/refresh', cookies: { refresh_token: refreshToken } })
const me = (app: App, accessToken: string) =>
  app.inject({ method: 'GET', url: '/v1/me', headers: bearer(accessToken) })

function pairOf(res: LightMyRequestResponse) {
  expect(res.statusCode, res.body).toBe(200)
  const body = res.json() as { access_token: string; refresh_token: string }
  expect(res.cookies.find((c) => c.name === 'refresh_token')?.value).toBe(body.refresh_token)
  return body
}

const sessionOf = (accessToken: string) => decodeJwt(accessToken).sid as string

async function familyOf(t: TestApp, familyId: string) {
  const [family] = await t.deps.db.select().from(refreshFamilies).where(eq(refreshFamilies.id, familyId))
  return family
}

/** The 401 of a reuse outside the interval: the cookie goes too. */
function expectReuseRefused(res: LightMyRequestResponse) {
  expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
  expect(res.cookies.find((c) => c.name === 'refresh_token')?.value).toBe('')
}

describe('refresh reuse interval', () => {
  let t: TestApp
  let intervalMs: number
  beforeAll(async () => {
    t = await buildTestApp()
    intervalMs = t.deps.config.REFRESH_REUSE_INTERVAL_SECONDS * 1000
  })
  afterAll(async () => {
    await t?.close()
  })

  it('defaults to 10 seconds', () => {
    expect(t.deps.config.REFRESH_REUSE_INTERVAL_SECONDS).toBe(10)
  })

  it('gives a token presented again within the interval a new sibling pair of the same sign-in; both work', async () => {
    const user = await registerAndLogin(t.app)
    const session = sessionOf(user.token)
    const tabA = pairOf(await refresh(t.app, user.refreshToken))
    t.clock.advance(intervalMs - 1)
    const tabB = pairOf(await refresh(t.app, user.refreshToken))

    // A new token, not the one the first rotation handed out, in the same family.
    expect(new Set([user.refreshToken, tabA.refresh_token, tabB.refresh_token]).size).toBe(3)
    expect(sessionOf(tabA.access_token)).toBe(session)
    expect(sessionOf(tabB.access_token)).toBe(session)
    expect((await me(t.app, tabA.access_token)).statusCode).toBe(200)
    expect((await me(t.app, tabB.access_token)).statusCode).toBe(200)

    // Every token of the family is a row of its own holding only its SHA-256.
    const rows = await t.deps.db.select().from(refreshTokens).where(eq(refreshTokens.familyId, session))
    expect(rows.map((row) => row.tokenHash).sort()).toEqual(
      [user.refreshToken, tabA.refresh_token, tabB.refresh_token].map(sha256).sort(),
    )
    const stored = JSON.stringify(rows)
    for (const token of [user.refreshToken, tabA.refresh_token, tabB.refresh_token]) {
      expect(stored).not.toContain(token)
    }

    // Each child rotates on its own, and the sign-in stays live.
    const nextA = pairOf(await refresh(t.app, tabA.refresh_token))
    const nextB = pairOf(await refresh(t.app, tabB.refresh_token))
    expect((await me(t.app, nextA.access_token)).statusCode).toBe(200)
    expect((await me(t.app, nextB.access_token)).statusCode).toBe(200)
    expect((await familyOf(t, session))?.revokedAt).toBeNull()
  })

  it('does not stretch the interval: the original presented after it revokes the family, siblings included', async () => {
    const user = await registerAndLogin(t.app)
    const session = sessionOf(user.token)
    const tabA = pairOf(await refresh(t.app, user.refreshToken))
    t.clock.advance(intervalMs / 2)
    const tabB = pairOf(await refresh(t.app, user.refreshToken))
    // Half an interval after the sibling, but a whole one after the rotation.
    t.clock.advance(intervalMs / 2)
    expectReuseRefused(await refresh(t.app, user.refreshToken))

    expect(await familyOf(t, session)).toMatchObject({ revokedReason: 'reuse_detected' })
    for (const pair of [tabA, tabB]) {
      expect(problemOf(await refresh(t.app, pair.refresh_token))).toMatchObject({ status: 401 })
      expect(problemOf(await me(t.app, pair.access_token))).toMatchObject({ status: 401 })
    }
  })

  it('revokes the whole family when a token comes back after the interval: 401, cookie cleared, access tokens refused', async () => {
    const user = await registerAndLogin(t.app)
    const other = await registerAndLogin(t.app)
    const next = pairOf(await refresh(t.app, user.refreshToken))
    t.clock.advance(intervalMs)
    expectReuseRefused(await refresh(t.app, user.refreshToken))

    // Access tokens of the family are refused on the next request; the newest refresh token is dead.
    expect(problemOf(await me(t.app, next.access_token))).toMatchObject({ status: 401 })
    expect(problemOf(await me(t.app, user.token))).toMatchObject({ status: 401 })
    expect(problemOf(await refresh(t.app, next.refresh_token))).toMatchObject({ status: 401 })
    // Someone else's sign-in is untouched.
    expect((await me(t.app, other.token)).statusCode).toBe(200)
  })

  it('refuses a token of a revoked family even within the interval (logout), without a reuse alarm', async () => {
    const user = await registerAndLogin(t.app)
    const next = pairOf(await refresh(t.app, user.refreshToken))
    const out = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      payload: { refresh_token: next.refresh_token },
    })
    expect(out.statusCode).toBe(204)
    const res = await refresh(t.app, user.refreshToken)
    expect(problemOf(res)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(await familyOf(t, sessionOf(user.token))).toMatchObject({ revokedReason: 'logout' })
  })

  it('gives no sibling for an expired token, an ended sign-in or a deactivated user, and revokes nothing', async () => {
    const cases: Record<
      string,
      (user: { id: string; refreshToken: string; session: string }) => Promise<void>
    > = {
      'expired token': async ({ refreshToken }) => {
        await t.deps.db
          .update(refreshTokens)
          .set({ expiresAt: t.clock.now() })
          .where(eq(refreshTokens.tokenHash, sha256(refreshToken)))
      },
      'ended sign-in': async ({ session }) => {
        await t.deps.db
          .update(refreshFamilies)
          .set({ expiresAt: t.clock.now() })
          .where(eq(refreshFamilies.id, session))
      },
      'deactivated user': async ({ id }) => {
        await t.deps.db.update(users).set({ isActive: false }).where(eq(users.id, id))
      },
    }
    for (const [name, end] of Object.entries(cases)) {
      const user = await registerAndLogin(t.app)
      const session = sessionOf(user.token)
      pairOf(await refresh(t.app, user.refreshToken))
      await end({ id: user.id, refreshToken: user.refreshToken, session })
      const res = await refresh(t.app, user.refreshToken)
      expect(problemOf(res), name).toMatchObject({ status: 401, code: 'unauthorized' })
      const rows = await t.deps.db.select().from(refreshTokens).where(eq(refreshTokens.familyId, session))
      expect(rows, name).toHaveLength(2)
      expect((await familyOf(t, session))?.revokedAt, name).toBeNull()
    }
  })

  it('answers ten simultaneous refreshes of one token with ten distinct pairs, one rotation and a live family', async () => {
    const user = await registerAndLogin(t.app)
    const session = sessionOf(user.token)
    const burst = await Promise.all(Array.from({ length: 10 }, () => refresh(t.app, user.refreshToken)))
    const pairs = burst.map(pairOf)
    const tokens = pairs.map((pair) => pair.refresh_token)
    expect(new Set(tokens).size).toBe(10)
    expect(tokens).not.toContain(user.refreshToken)
    expect(pairs.every((pair) => sessionOf(pair.access_token) === session)).toBe(true)
    expect((await familyOf(t, session))?.revokedAt).toBeNull()
    const rows = await t.deps.db.select().from(refreshTokens).where(eq(refreshTokens.familyId, session))
    expect(rows).toHaveLength(11)
    // The original was rotated once: the nine others found it rotated and got siblings.
    expect(rows.filter((row) => row.rotatedAt !== null)).toHaveLength(1)

    // Each returned token rotates once, all of them at once too, and the sign-in stays live.
    const onward = (await Promise.all(tokens.map((token) => refresh(t.app, token)))).map(pairOf)
    for (const pair of onward) expect((await me(t.app, pair.access_token)).statusCode).toBe(200)
    expect((await familyOf(t, session))?.revokedAt).toBeNull()

    // A spent one of them, presented after the interval, is theft as any other.
    t.clock.advance(intervalMs)
    expectReuseRefused(await refresh(t.app, tokens[3] ?? ''))
    expect(problemOf(await me(t.app, onward[0]?.access_token ?? ''))).toMatchObject({ status: 401 })
  })
})

describe('refresh reuse interval of 0', () => {
  it('turns siblings off: a token presented again at once revokes the family', async () => {
    const t = await buildTestApp({ REFRESH_REUSE_INTERVAL_SECONDS: '0' })
    try {
      const user = await registerAndLogin(t.app)
      const next = pairOf(await refresh(t.app, user.refreshToken))
      expectReuseRefused(await refresh(t.app, user.refreshToken))
      expect(problemOf(await me(t.app, next.access_token))).toMatchObject({ status: 401 })
      expect(problemOf(await refresh(t.app, next.refresh_token))).toMatchObject({ status: 401 })
    } finally {
      await t.close()
    }
  })
})

describe('refresh reuse interval and the refresh rate limit', () => {
  it('counts siblings against the sign-in they belong to', async () => {
    const t = await buildTestApp({ AUTH_RATE_LIMIT_PER_MINUTE: '2', REFRESH_RATE_LIMIT_PER_MINUTE: '2' })
    try {
      const user = await registerAndLogin(t.app)
      const other = await registerAndLogin(t.app)
      pairOf(await refresh(t.app, user.refreshToken))
      pairOf(await refresh(t.app, user.refreshToken))
      expect(problemOf(await refresh(t.app, user.refreshToken))).toMatchObject({
        status: 429,
        code: 'rate_limited',
      })
      // Another sign-in has its own budget.
      pairOf(await refresh(t.app, other.refreshToken))
    } finally {
      await t.close()
    }
  })
})

describe('refresh reuse interval on two instances', () => {
  it('keeps both tabs signed in when they refresh one token at once on different instances', async () => {
    const first = await buildTestApp()
    try {
      const second = await buildTestApp({}, { testDb: first.testDb })
      try {
        // The instances' clocks differ by a couple of seconds, well within the interval.
        second.clock.set(new Date(first.clock.now().getTime() + 2_000))
        const user = await registerAndLogin(first.app)
        const [onFirst, onSecond] = await Promise.all([
          refresh(first.app, user.refreshToken),
          refresh(second.app, user.refreshToken),
        ])
        const tabA = pairOf(onFirst)
        const tabB = pairOf(onSecond)
        expect(tabA.refresh_token).not.toBe(tabB.refresh_token)

        // Each tab keeps working on either instance.
        expect((await me(second.app, tabA.access_token)).statusCode).toBe(200)
        expect((await me(first.app, tabB.access_token)).statusCode).toBe(200)
        const nextA = pairOf(await refresh(second.app, tabA.refresh_token))
        const nextB = pairOf(await refresh(first.app, tabB.refresh_token))

        // After the interval, the original is theft, and both instances refuse the family at once.
        second.clock.advance(second.deps.config.REFRESH_REUSE_INTERVAL_SECONDS * 1000)
        expectReuseRefused(await refresh(second.app, user.refreshToken))
        expect(problemOf(await me(first.app, nextA.access_token))).toMatchObject({ status: 401 })
        expect(problemOf(await me(first.app, nextB.access_token))).toMatchObject({ status: 401 })
      } finally {
        await second.close()
      }
    } finally {
      await first.close()
    }
  })
})
