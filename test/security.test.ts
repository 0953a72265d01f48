// One shared matrix over every account-scoped route and every admin-only plan route: no token,
// a forged token, another tenant, a too-low role and a site admin each get the answer §6 promises,
// and so do API keys: one with the route's scope gets through (site key, and this account's key),
// one without it gets 403 naming the scope, another account's key 404, a revoked key 401, and
// routes for people only refuse every key with 403.
// A new route is one line in `accountCases` or `planCases`; the coverage tests fail until it is added.
import { generateKeyPairSync } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { decodeJwt, decodeProtectedHeader, type JWTHeaderParameters, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type KeyScope, keyScopes, siteOnlyScopes } from '../src/modules/keys/scopes.ts'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  invite,
  loginAdmin,
  registerAndLogin,
  subscribe,
  type TestApp,
  type TestUser,
  uniqueEmail,
} from './helpers/app.ts'

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

/** The users and resources every case builds its requests from. */
interface World {
  owner: TestUser
  /** Added with role `member` to both accounts. */
  member: TestUser
  /** A second member, the target of "remove a member". */
  extra: TestUser
  /** A registered user the owner has not invited yet (the owner control of "invite someone"). */
  newcomer: TestUser
  /** A user of another tenant: registered, with an account of their own, no member of the owner's. */
  stranger: TestUser
  adminToken: string
  /** The owner's subscribed account. */
  accountId: string
  /** The owner's second account, never subscribed. */
  spareAccountId: string
  staffId: string
  /** A booking on a day no other booking uses, so the per-day limit never gets in the way. */
  newBooking(): Promise<string>
  nextDay(): string
  /** A fresh plan created by the site admin. */
  newPlan(): Promise<string>
  newPlanCode(): string
  /** A pending invitation of a fresh address to the owner's account. */
  newInvitation(): Promise<string>
  /** Leaves the subscription canceled at period end (whether or not it already was). */
  cancelAtPeriodEnd(): Promise<void>
  /** A fresh key of the owner's account (its id). */
  newAccountKeyId(): Promise<string>
  keys: {
    /** A site key with every scope. */
    site: string
    /** A key of the owner's account with every scope an account key may have. */
    account: string
    /** A key of the stranger's account with every scope an account key may have. */
    otherAccount: string
    /** A site key with every scope but one. */
    siteWithout(scope: KeyScope): Promise<string>
    /** A site key with every scope, revoked. */
    revoked: string
  }
}

interface RouteCase {
  /** Method and OpenAPI path, exactly as in /openapi.json. */
  route: string
  /** Values for the path's parameters other than `accountId` (which defaults to the owner's account). */
  params?: (w: World) => Record<string, string> | Promise<Record<string, string>>
  body?: (w: World) => Record<string, unknown>
  /** A query string, without the `?`. */
  query?: string
  /** The lowest account role that may do this (`admin` means owners and admins). */
  role: 'member' | 'admin'
  /** The scope an API key needs here; null: the route is for people only. */
  scope: KeyScope | null
  /** `read`: a site admin who is not a member gets `ok` too; `write`: he gets 404. */
  siteAdmin: 'read' | 'write'
  /** The status of an allowed caller: the owner, and a member when `role` is `member`. */
  ok: number
  /** Runs before the owner's request only (the other callers are refused before any state matters). */
  ownerSetup?: (w: World) => Promise<void>
}

// Cases that change state run their owner control last, so each case's refusals see the same world.
const accountCases: RouteCase[] = [
  {
    route: 'GET /v1/accounts/{accountId}',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'PATCH /v1/accounts/{accountId}',
    scope: 'accounts:write',
    body: () => ({ name: 'Renamed' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
  },
  {
    route: 'GET /v1/accounts/{accountId}/members',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'PATCH /v1/accounts/{accountId}/members/{userId}',
    scope: null,
    params: (w) => ({ userId: w.extra.id }),
    body: () => ({ role: 'member' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
  },
  // Any member may remove themselves; removing someone else needs owner or admin.
  {
    route: 'DELETE /v1/accounts/{accountId}/members/{userId}',
    scope: null,
    params: (w) => ({ userId: w.extra.id }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 204,
  },
  {
    route: 'POST /v1/accounts/{accountId}/invitations',
    scope: 'accounts:write',
    body: (w) => ({ email: w.newcomer.email, role: 'member' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 202,
  },
  {
    route: 'GET /v1/accounts/{accountId}/invitations',
    scope: 'accounts:read',
    role: 'admin',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'DELETE /v1/accounts/{accountId}/invitations/{invitationId}',
    scope: 'accounts:write',
    params: async (w) => ({ invitationId: await w.newInvitation() }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 204,
  },
  {
    route: 'GET /v1/accounts/{accountId}/subscription',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'GET /v1/accounts/{accountId}/subscription/history',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/subscription',
    scope: 'subscriptions:write',
    params: (w) => ({ accountId: w.spareAccountId }),
    body: () => ({ plan: 'basic' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 201,
  },
  {
    route: 'PATCH /v1/accounts/{accountId}/subscription',
    scope: 'subscriptions:write',
    body: () => ({ plan: 'pro' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/subscription/cancel',
    scope: 'subscriptions:write',
    body: () => ({ at_period_end: true }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/subscription/resume',
    scope: 'subscriptions:write',
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
    ownerSetup: (w) => w.cancelAtPeriodEnd(),
  },
  {
    route: 'GET /v1/accounts/{accountId}/subscription/preview',
    scope: 'accounts:read',
    query: 'plan=pro',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'GET /v1/accounts/{accountId}/entitlements',
    scope: 'entitlements:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/usage',
    scope: 'usage:write',
    // A metered feature that another plan names and basic lacks: releasing it is allowed (it stays at
    // zero). Resource-backed features such as bookings_per_day are refused with feature_not_metered.
    body: () => ({ feature: meteredFeature, quantity: -1 }),
    role: 'member',
    siteAdmin: 'write',
    ok: 200,
  },
  {
    route: 'GET /v1/accounts/{accountId}/usage/history',
    scope: 'entitlements:read',
    query: 'feature=bookings_per_day',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/check',
    scope: 'entitlements:read',
    // A read: it consumes nothing, so site admins may ask as they read entitlements.
    body: () => ({ feature: 'bookings_per_day', quantity: 2 }),
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'GET /v1/accounts/{accountId}/invoices',
    scope: 'accounts:read',
    role: 'admin',
    siteAdmin: 'read',
    ok: 200,
  },
  // This world uses the manual provider: the owner passes the guards and is told there is no portal.
  {
    route: 'POST /v1/accounts/{accountId}/billing-portal',
    scope: 'subscriptions:write',
    role: 'admin',
    siteAdmin: 'write',
    ok: 409,
  },
  {
    route: 'POST /v1/accounts/{accountId}/staff',
    scope: 'resources:write',
    body: () => ({ name: 'Ann' }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 201,
  },
  {
    route: 'GET /v1/accounts/{accountId}/staff',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'DELETE /v1/accounts/{accountId}/staff/{staffId}',
    scope: 'resources:write',
    params: (w) => ({ staffId: w.staffId }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 204,
  },
  {
    route: 'POST /v1/accounts/{accountId}/bookings',
    scope: 'resources:write',
    body: (w) => ({ customer_name: 'Zoe', starts_at: `${w.nextDay()}T10:00:00Z` }),
    role: 'member',
    siteAdmin: 'write',
    ok: 201,
  },
  {
    route: 'GET /v1/accounts/{accountId}/bookings',
    scope: 'accounts:read',
    role: 'member',
    siteAdmin: 'read',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/bookings/{bookingId}/cancel',
    scope: 'resources:write',
    params: async (w) => ({ bookingId: await w.newBooking() }),
    role: 'member',
    siteAdmin: 'write',
    ok: 200,
  },
  {
    route: 'POST /v1/accounts/{accountId}/api-keys',
    scope: null,
    body: () => ({ name: 'Backend', scopes: ['accounts:read'] }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 201,
  },
  // Site admins see every key (and revoke any through DELETE /v1/admin/api-keys/{id}).
  { route: 'GET /v1/accounts/{accountId}/api-keys', scope: null, role: 'admin', siteAdmin: 'read', ok: 200 },
  {
    route: 'DELETE /v1/accounts/{accountId}/api-keys/{keyId}',
    scope: null,
    params: async (w) => ({ keyId: await w.newAccountKeyId() }),
    role: 'admin',
    siteAdmin: 'write',
    ok: 200,
  },
]

/** Named by a plan the site admin creates in the matrix's setup, so the usage API knows it. */
const meteredFeature = 'sec_exports_per_day'

interface PlanCase {
  route: string
  params?: (w: World) => Promise<Record<string, string>>
  body?: (w: World) => Record<string, unknown>
  /** The status a site admin gets (the control that the request itself is valid). */
  ok: number
}

const planCases: PlanCase[] = [
  {
    route: 'POST /v1/plans',
    body: (w) => ({ code: w.newPlanCode(), name: 'Gold', price_cents: 4900 }),
    ok: 201,
  },
  {
    route: 'PATCH /v1/plans/{code}',
    params: async (w) => ({ code: await w.newPlan() }),
    body: () => ({ name: 'Platinum' }),
    ok: 200,
  },
  { route: 'DELETE /v1/plans/{code}', params: async (w) => ({ code: await w.newPlan() }), ok: 204 },
]

interface Built {
  method: Method
  url: string
  payload?: Record<string, unknown>
}

async function build(
  c: { route: string; params?: RouteCase['params']; body?: RouteCase['body']; query?: string },
  w: World,
): Promise<Built> {
  const [method, path] = c.route.split(' ') as [Method, string]
  const values: Record<string, string> = { accountId: w.accountId, ...(await c.params?.(w)) }
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`${c.route}: no value for {${name}}`)
    return value
  })
  return { method, url: c.query ? `${url}?${c.query}` : url, ...(c.body && { payload: c.body(w) }) }
}

/** A token with the real one's header (same `kid`) and claims, signed by a key the service never saw. */
async function forge(token: string): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519')
  return new SignJWT(decodeJwt(token))
    .setProtectedHeader(decodeProtectedHeader(token) as JWTHeaderParameters)
    .sign(privateKey)
}

function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.json()).toMatchObject({ status, code })
}

describe('security matrix', () => {
  let t: TestApp
  let w: World
  let forged: string

  const send = (req: Built, token?: string) =>
    t.app.inject({ ...req, headers: token === undefined ? {} : bearer(token) })

  beforeAll(async () => {
    t = await buildTestApp()
    const { app } = t
    const owner = await registerAndLogin(app)
    const [member, extra, newcomer, stranger] = await Promise.all([
      registerAndLogin(app),
      registerAndLogin(app),
      registerAndLogin(app),
      registerAndLogin(app),
    ])
    const account = await createAccount(app, owner.token, { name: 'Owner salon' })
    const spare = await createAccount(app, owner.token, { name: 'Owner spare' })
    await subscribe(app, owner.token, account.id, 'basic')
    const strangerAccount = await createAccount(app, stranger.token, { name: 'Stranger salon' })
    await addMember(t, owner.token, account.id, member)
    await addMember(t, owner.token, spare.id, member)
    await addMember(t, owner.token, account.id, extra)
    const staff = await app.inject({
      method: 'POST',
      url: `/v1/accounts/${account.id}/staff`,
      headers: bearer(owner.token),
      payload: { name: 'Bea' },
    })
    expect(staff.statusCode, staff.body).toBe(201)
    const adminToken = await loginAdmin(app)
    const meteredPlan = await app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(adminToken),
      payload: { code: 'sec-metered', name: 'Metered', price_cents: 0, limits: { [meteredFeature]: 3 } },
    })
    expect(meteredPlan.statusCode, meteredPlan.body).toBe(201)
    const accountScopes = keyScopes.filter((scope) => !siteOnlyScopes.includes(scope))
    const newKey = async (url: string, token: string, scopes: readonly KeyScope[]) => {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: bearer(token),
        payload: { name: 'matrix', scopes },
      })
      expect(res.statusCode, res.body).toBe(201)
      return res.json() as { id: string; key: string }
    }
    const revoked = await newKey('/v1/admin/api-keys', adminToken, keyScopes)
    const revoke = await app.inject({
      method: 'DELETE',
      url: `/v1/admin/api-keys/${revoked.id}`,
      headers: bearer(adminToken),
    })
    expect(revoke.statusCode, revoke.body).toBe(200)
    const keys: World['keys'] = {
      site: (await newKey('/v1/admin/api-keys', adminToken, keyScopes)).key,
      account: (await newKey(`/v1/accounts/${account.id}/api-keys`, owner.token, accountScopes)).key,
      otherAccount: (
        await newKey(`/v1/accounts/${strangerAccount.id}/api-keys`, stranger.token, accountScopes)
      ).key,
      siteWithout: async (scope) =>
        (
          await newKey(
            '/v1/admin/api-keys',
            adminToken,
            keyScopes.filter((other) => other !== scope),
          )
        ).key,
      revoked: revoked.key,
    }
    let day = 0
    let plan = 0
    const nextDay = () => new Date(Date.UTC(2031, 0, 1 + day++)).toISOString().slice(0, 10)
    const newPlanCode = () => `sec-${Date.now().toString(36)}-${plan++}`
    w = {
      owner,
      member,
      extra,
      newcomer,
      stranger,
      adminToken,
      accountId: account.id,
      spareAccountId: spare.id,
      staffId: staff.json().id,
      nextDay,
      newPlanCode,
      keys,
      async newAccountKeyId() {
        return (await newKey(`/v1/accounts/${account.id}/api-keys`, owner.token, ['accounts:read'])).id
      },
      async newBooking() {
        const res = await app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/bookings`,
          headers: bearer(owner.token),
          payload: { customer_name: 'Yves', starts_at: `${nextDay()}T09:00:00Z` },
        })
        expect(res.statusCode, res.body).toBe(201)
        return res.json().id
      },
      async newInvitation() {
        return (await invite(t, owner.token, account.id, uniqueEmail('invitee'))).id
      },
      async newPlan() {
        const code = newPlanCode()
        const res = await app.inject({
          method: 'POST',
          url: '/v1/plans',
          headers: bearer(adminToken),
          payload: { code, name: 'Silver', price_cents: 1900, limits: { staff: 1 } },
        })
        expect(res.statusCode, res.body).toBe(201)
        return code
      },
      async cancelAtPeriodEnd() {
        await app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/subscription/cancel`,
          headers: bearer(owner.token),
          payload: { at_period_end: true },
        })
        const current = await app.inject({
          method: 'GET',
          url: `/v1/accounts/${account.id}/subscription`,
          headers: bearer(owner.token),
        })
        expect(current.json()).toMatchObject({ cancel_at_period_end: true, has_access: true })
      },
    }
    forged = await forge(owner.token)
  })
  afterAll(async () => {
    await t?.close()
  })

  it('forges tokens that differ from the real one only by their signature', async () => {
    expect(forged).not.toBe(w.owner.token)
    expect(decodeProtectedHeader(forged)).toEqual(decodeProtectedHeader(w.owner.token))
    expect(decodeJwt(forged)).toEqual(decodeJwt(w.owner.token))
    expect(forged.split('.').slice(0, 2)).toEqual(w.owner.token.split('.').slice(0, 2))
  })

  it('covers every account-scoped and every admin-only plan route of the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    const accountScoped = routes.filter((route) =>
      route.split(' ')[1]?.startsWith('/v1/accounts/{accountId}'),
    )
    expect(accountCases.map((c) => c.route).sort()).toEqual(accountScoped.sort())
    const planWrites = routes.filter((route) => route.includes(' /v1/plans') && !route.startsWith('GET '))
    expect(planCases.map((c) => c.route).sort()).toEqual(planWrites.sort())
  })

  describe.each(accountCases)('$route', (c) => {
    it('answers 401 unauthorized without a token', async () => {
      expectProblem(await send(await build(c, w)), 401, 'unauthorized')
    })

    it('answers 401 unauthorized to a token signed with another key (same claims and kid)', async () => {
      expectProblem(await send(await build(c, w), forged), 401, 'unauthorized')
    })

    it("answers 404 not_found to a user of another tenant, never revealing the owner's account", async () => {
      expectProblem(await send(await build(c, w), w.stranger.token), 404, 'not_found')
    })

    if (c.role === 'admin') {
      it('answers 403 forbidden to a member (the route needs owner or admin)', async () => {
        expectProblem(await send(await build(c, w), w.member.token), 403, 'forbidden')
      })
    } else {
      it('lets a member through', async () => {
        const res = await send(await build(c, w), w.member.token)
        expect(res.statusCode, res.body).toBe(c.ok)
      })
    }

    if (c.siteAdmin === 'read') {
      it('lets a site admin read the account without being a member', async () => {
        const res = await send(await build(c, w), w.adminToken)
        expect(res.statusCode, res.body).toBe(c.ok)
      })
    } else {
      it('answers 404 not_found to a site admin who is not a member (admins only read)', async () => {
        expectProblem(await send(await build(c, w), w.adminToken), 404, 'not_found')
      })
    }

    it('answers 401 unauthorized to a revoked API key', async () => {
      expectProblem(await send(await build(c, w), w.keys.revoked), 401, 'unauthorized')
    })

    it("answers 404 not_found to another account's API key, whatever its scopes", async () => {
      expectProblem(await send(await build(c, w), w.keys.otherAccount), 404, 'not_found')
    })

    const scope = c.scope
    if (scope === null) {
      it('answers 403 forbidden to every API key (the route is for people only)', async () => {
        expectProblem(await send(await build(c, w), w.keys.site), 403, 'forbidden')
        expectProblem(await send(await build(c, w), w.keys.account), 403, 'forbidden')
      })
    } else {
      it(`answers 403 forbidden naming ${scope} to a key without it`, async () => {
        const res = await send(await build(c, w), await w.keys.siteWithout(scope))
        expectProblem(res, 403, 'forbidden')
        expect(res.json().detail).toContain(scope)
      })
    }

    it('lets the owner through (control: the request itself is valid)', async () => {
      await c.ownerSetup?.(w)
      const res = await send(await build(c, w), w.owner.token)
      expect(res.statusCode, res.body).toBe(c.ok)
    })

    // After the owner's control, so the owner sees the world every refusal saw. Past the guards, what
    // follows is the route's own answer (a resource the owner used up may be gone, a subscription
    // already changed), never a refusal of the key.
    if (scope !== null) {
      it(`lets a site key and this account's key with ${scope} through`, async () => {
        const target = await build(c, w)
        // The owner's key reaches the owner's main account only (subscribe uses the spare one).
        const keys = target.url.includes(w.accountId) ? [w.keys.site, w.keys.account] : [w.keys.site]
        for (const key of keys) {
          const res = await send(await build(c, w), key)
          const body = res.statusCode >= 400 ? res.json() : {}
          expect(['unauthorized', 'forbidden'], res.body).not.toContain(body.code)
          expect(body.detail ?? '', res.body).not.toBe('Account not found')
        }
      })
    }
  })

  describe.each(planCases)('$route', (c) => {
    it('answers 401 unauthorized without a token', async () => {
      expectProblem(await send(await build(c, w)), 401, 'unauthorized')
    })

    it('answers 401 unauthorized to a forged token', async () => {
      expectProblem(await send(await build(c, w), forged), 401, 'unauthorized')
    })

    it('answers 403 forbidden to a user who is not a site admin', async () => {
      expectProblem(await send(await build(c, w), w.owner.token), 403, 'forbidden')
    })

    it('answers 401 unauthorized to a revoked API key', async () => {
      expectProblem(await send(await build(c, w), w.keys.revoked), 401, 'unauthorized')
    })

    it('answers 403 forbidden to an account key and to a site key without plans:write', async () => {
      expectProblem(await send(await build(c, w), w.keys.account), 403, 'forbidden')
      const res = await send(await build(c, w), await w.keys.siteWithout('plans:write'))
      expectProblem(res, 403, 'forbidden')
      expect(res.json().detail).toContain('plans:write')
    })

    it('lets a site key with plans:write through', async () => {
      const res = await send(await build(c, w), w.keys.site)
      expect(res.statusCode, res.body).toBe(c.ok)
    })

    it('lets a site admin through (control: the request itself is valid)', async () => {
      const res = await send(await build(c, w), w.adminToken)
      expect(res.statusCode, res.body).toBe(c.ok)
    })
  })
})
