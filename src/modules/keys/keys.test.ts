import { eq, sql } from 'drizzle-orm'
import type { DestinationStream } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  loginAdmin,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { sha256 } from '../../core/crypto.ts'
import { createLogger } from '../../logging.ts'
import { auditLog } from '../audit/tables.ts'
import { staff } from '../staff/tables.ts'
import { apiKeys } from './tables.ts'

interface CreatedKey {
  id: string
  key: string
  prefix: string
  scopes: string[]
  account_id: string | null
  last_used_at: string | null
  expires_at: string | null
  revoked_at: string | null
}

/** A log destination that keeps every line written, as the process's stdout would receive it. */
function captureLog() {
  const lines: string[] = []
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) }
  return { lines, log: createLogger('info', destination) }
}

describe('API keys', () => {
  let t: TestApp
  let admin: string
  const logged = captureLog()

  const request = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    token: string,
    payload?: object,
  ) => t.app.inject({ method, url, headers: bearer(token), ...(payload && { payload }) })

  const siteKey = async (scopes: string[], extra: Record<string, unknown> = {}) => {
    const res = await request('POST', '/v1/admin/api-keys', admin, { name: 'backend', scopes, ...extra })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as CreatedKey
  }

  beforeAll(async () => {
    t = await buildTestApp({}, { log: logged.log })
    admin = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  it('shows the secret once, stores only its SHA-256, and lists the key by its prefix', async () => {
    const created = await siteKey(['accounts:read', 'entitlements:read'])
    expect(created.key).toMatch(/^pgk_[A-Za-z0-9_-]{43}$/)
    expect(created.key.startsWith(created.prefix)).toBe(true)
    expect(created.prefix).toHaveLength(12)
    expect(created).toMatchObject({ account_id: null, last_used_at: null, revoked_at: null })

    const [row] = await t.deps.db.select().from(apiKeys).where(eq(apiKeys.id, created.id))
    expect(row?.hash).toBe(sha256(created.key))
    expect(JSON.stringify(row)).not.toContain(created.key.slice(12))

    const list = await request('GET', '/v1/admin/api-keys', admin)
    expect(list.statusCode, list.body).toBe(200)
    const listed = list.json().data.find((key: CreatedKey) => key.id === created.id)
    expect(listed).toMatchObject({ prefix: created.prefix, scopes: created.scopes })
    expect(listed).not.toHaveProperty('key')
    expect(list.body).not.toContain(created.key)
  })

  it('refuses unknown scopes, none, a past expiry, and plans:write on an account key', async () => {
    for (const body of [
      { name: 'x', scopes: ['everything'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['accounts:read'], expires_at: new Date(Date.now() - 60_000).toISOString() },
    ]) {
      const res = await request('POST', '/v1/admin/api-keys', admin, body)
      expect(res.statusCode, res.body).toBe(400)
      expect(res.json().code).toBe('validation_failed')
    }
    const { owner, account } = await subscribedAccount(t.app)
    const res = await request('POST', `/v1/accounts/${account.id}/api-keys`, owner.token, {
      name: 'x',
      scopes: ['plans:write'],
    })
    expect(res.statusCode, res.body).toBe(400)
    expect(res.json().detail).toContain('plans:write')
  })

  it('lets owners and admins of the account make its keys, not members', async () => {
    const { owner, account } = await subscribedAccount(t.app)
    const member = await registerAndLogin(t.app)
    await addMember(t, owner.token, account.id, member)
    const body = { name: 'x', scopes: ['accounts:read'] }
    const refused = await request('POST', `/v1/accounts/${account.id}/api-keys`, member.token, body)
    expect(refused.statusCode, refused.body).toBe(403)
    const made = await request('POST', `/v1/accounts/${account.id}/api-keys`, owner.token, body)
    expect(made.statusCode, made.body).toBe(201)
    expect(made.json().account_id).toBe(account.id)
    // A key never makes or lists keys.
    const byKey = await request('GET', `/v1/accounts/${account.id}/api-keys`, made.json().key)
    expect(byKey.statusCode, byKey.body).toBe(403)
  })

  it('works on the hot paths and the guarded routes, writing rows and naming the key in the audit log', async () => {
    const { account } = await subscribedAccount(t.app, 'pro')
    const key = await siteKey([
      'resources:write',
      'entitlements:read',
      'subscriptions:write',
      'accounts:read',
    ])

    const staff = await request('POST', `/v1/accounts/${account.id}/staff`, key.key, { name: 'Kim' })
    expect(staff.statusCode, staff.body).toBe(201)
    const booking = await request('POST', `/v1/accounts/${account.id}/bookings`, key.key, {
      customer_name: 'Lou',
      starts_at: '2031-03-03T10:00:00Z',
      staff_id: staff.json().id,
    })
    expect(booking.statusCode, booking.body).toBe(201)
    const canceled = await request(
      'POST',
      `/v1/accounts/${account.id}/bookings/${booking.json().id}/cancel`,
      key.key,
    )
    expect(canceled.statusCode, canceled.body).toBe(200)

    const entitlements = await request(
      'GET',
      `/v1/accounts/${account.id}/entitlements?date=2031-03-03`,
      key.key,
    )
    expect(entitlements.statusCode, entitlements.body).toBe(200)
    expect(entitlements.json().features).toMatchObject({
      staff: { used: 1, limit: 5 },
      bookings_per_day: { used: 0 },
    })

    const changed = await request('PATCH', `/v1/accounts/${account.id}/subscription`, key.key, {
      plan: 'basic',
    })
    expect(changed.statusCode, changed.body).toBe(200)
    const entries = await t.deps.db
      .select()
      .from(auditLog)
      .where(sql`${auditLog.accountId} = ${account.id} and ${auditLog.action} like 'subscription.%'`)
    const byKey = entries.filter((entry) => entry.actorKeyId === key.id)
    expect(byKey.length).toBeGreaterThan(0)
    for (const entry of byKey) expect(entry).toMatchObject({ actorType: 'key', actorUserId: null })
    const listed = await request('GET', `/v1/admin/audit-log?actor_key_id=${key.id}`, admin)
    expect(listed.statusCode, listed.body).toBe(200)
    expect(listed.json().data.length).toBe(byKey.length)
    for (const entry of listed.json().data)
      expect(entry).toMatchObject({ actor_type: 'key', actor_key_id: key.id })
  })

  it('reaches only its own account when it is an account key (404 elsewhere)', async () => {
    const mine = await subscribedAccount(t.app)
    const theirs = await subscribedAccount(t.app)
    const made = await request('POST', `/v1/accounts/${mine.account.id}/api-keys`, mine.owner.token, {
      name: 'x',
      scopes: ['resources:write', 'entitlements:read', 'accounts:read'],
    })
    const key = made.json().key as string
    expect((await request('GET', `/v1/accounts/${mine.account.id}/entitlements`, key)).statusCode).toBe(200)
    for (const [method, url, payload] of [
      ['GET', `/v1/accounts/${theirs.account.id}/entitlements`],
      ['GET', `/v1/accounts/${theirs.account.id}`],
      ['POST', `/v1/accounts/${theirs.account.id}/staff`, { name: 'Intruder' }],
      [
        'POST',
        `/v1/accounts/${theirs.account.id}/bookings`,
        { customer_name: 'X', starts_at: '2031-01-01T10:00:00Z' },
      ],
    ] as const) {
      const res = await request(method, url, key, payload)
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBe(404)
    }
    const rows = await t.deps.db.select().from(staff).where(eq(staff.accountId, theirs.account.id))
    expect(rows).toHaveLength(0)
  })

  it('is refused at once when revoked or expired, on the hot paths and the guarded routes alike', async () => {
    const { account } = await subscribedAccount(t.app)
    const key = await siteKey(['entitlements:read', 'accounts:read'], {
      expires_at: new Date(t.clock.now().getTime() + 3_600_000).toISOString(),
    })
    const hot = () => request('GET', `/v1/accounts/${account.id}/entitlements`, key.key)
    const guarded = () => request('GET', `/v1/accounts/${account.id}`, key.key)
    expect((await hot()).statusCode).toBe(200)
    expect((await guarded()).statusCode).toBe(200)

    t.clock.advance(3_600_000 + 1_000)
    for (const res of [await hot(), await guarded()]) {
      expect(res.statusCode, res.body).toBe(401)
      expect(res.json().code).toBe('unauthorized')
    }
    t.clock.advance(-3_600_000 - 1_000)

    const other = await siteKey(['entitlements:read', 'accounts:read'])
    expect((await request('GET', `/v1/accounts/${account.id}/entitlements`, other.key)).statusCode).toBe(200)
    const revoked = await request('DELETE', `/v1/admin/api-keys/${other.id}`, admin)
    expect(revoked.statusCode, revoked.body).toBe(200)
    expect(revoked.json().revoked_at).not.toBeNull()
    for (const url of [`/v1/accounts/${account.id}/entitlements`, `/v1/accounts/${account.id}`]) {
      const res = await request('GET', url, other.key)
      expect(res.statusCode, res.body).toBe(401)
    }
  })

  it('names the missing scope in its 403', async () => {
    const { account } = await subscribedAccount(t.app)
    const key = await siteKey(['accounts:read'])
    for (const [method, url, scope] of [
      ['GET', `/v1/accounts/${account.id}/entitlements`, 'entitlements:read'],
      ['POST', `/v1/accounts/${account.id}/staff`, 'resources:write'],
      ['PATCH', `/v1/accounts/${account.id}/subscription`, 'subscriptions:write'],
    ] as const) {
      const res = await request(
        method,
        url,
        key.key,
        method === 'GET' ? undefined : { name: 'A', plan: 'pro' },
      )
      expect(res.statusCode, res.body).toBe(403)
      expect(res.json()).toMatchObject({ code: 'forbidden' })
      expect(res.json().detail).toContain(scope)
    }
  })

  it('records its use at most once a minute', async () => {
    const { account } = await subscribedAccount(t.app)
    const key = await siteKey(['entitlements:read'])
    const lastUsed = async () =>
      (await t.deps.db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]?.lastUsedAt?.getTime()
    await request('GET', `/v1/accounts/${account.id}/entitlements`, key.key)
    const first = await lastUsed()
    expect(first).toBe(t.clock.now().getTime())
    t.clock.advance(30_000)
    await request('GET', `/v1/accounts/${account.id}/entitlements`, key.key)
    expect(await lastUsed()).toBe(first)
    t.clock.advance(31_000)
    await request('GET', `/v1/accounts/${account.id}/entitlements`, key.key)
    expect(await lastUsed()).toBe(t.clock.now().getTime())
  })

  it('admits exactly the limit of simultaneous bookings made with one key while its use is being recorded', async () => {
    const { account } = await subscribedAccount(t.app)
    const key = await siteKey(['resources:write'])
    // Every statement of the burst finds the recorded use stale and tries to record it.
    await request('POST', `/v1/accounts/${account.id}/bookings`, key.key, {
      customer_name: 'First',
      starts_at: '2031-05-05T08:00:00Z',
    })
    t.clock.advance(120_000)
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        request('POST', `/v1/accounts/${account.id}/bookings`, key.key, {
          customer_name: `Guest ${i}`,
          starts_at: '2031-05-06T09:00:00Z',
        }),
      ),
    )
    const statuses = responses.map((res) => res.statusCode).sort()
    expect(statuses.filter((status) => status === 201)).toHaveLength(5)
    expect(statuses.filter((status) => status === 403)).toHaveLength(25)
    const [row] = await t.deps.db.select().from(apiKeys).where(eq(apiKeys.id, key.id))
    expect(row?.lastUsedAt?.getTime()).toBe(t.clock.now().getTime())
  })

  it('never writes a key to the log, accepted or refused', async () => {
    const { account } = await subscribedAccount(t.app)
    const key = await siteKey(['entitlements:read'])
    await request('GET', `/v1/accounts/${account.id}/entitlements`, key.key)
    await request('GET', `/v1/accounts/${account.id}/entitlements`, `${key.key.slice(0, -2)}xx`)
    await request('GET', `/v1/accounts/${account.id}/entitlements?api_key=${key.key}`, admin)
    expect(logged.lines.length).toBeGreaterThan(0)
    expect(logged.lines.join('\n')).not.toContain(key.key.slice(4))
  })
})

describe('API keys and rate limits', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({ RATE_LIMIT_PER_MINUTE: '3' })
  })
  afterAll(async () => {
    await t?.close()
  })

  it('counts each key on its own budget, and unknown keys on the address', async () => {
    const admin = await loginAdmin(t.app)
    const make = async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/api-keys',
        headers: bearer(admin),
        payload: { name: 'k', scopes: ['accounts:read'] },
      })
      expect(res.statusCode, res.body).toBe(201)
      return res.json().key as string
    }
    const [first, second] = [await make(), await make()]
    const get = (key: string) => t.app.inject({ method: 'GET', url: '/v1/plans', headers: bearer(key) })
    const statuses = async (key: string, n: number) => {
      const out: number[] = []
      for (let i = 0; i < n; i++) out.push((await get(key)).statusCode)
      return out
    }
    expect(await statuses(first, 4)).toEqual([200, 200, 200, 429])
    expect(await statuses(second, 3)).toEqual([200, 200, 200])
    // Made-up keys share the client address's budget instead of getting one each.
    const made = ['pgk_madeup1', 'pgk_madeup2', 'pgk_madeup3', 'pgk_madeup4'].map(
      (key) => `${key}${'a'.repeat(40)}`,
    )
    const answers: number[] = []
    for (const key of made) answers.push((await get(key)).statusCode)
    expect(answers.at(-1)).toBe(429)
  })
})

describe('API keys and tenants', () => {
  let t: TestApp
  let admin: string
  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const request = (method: 'GET' | 'POST' | 'PATCH', url: string, token: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload && { payload }) })

  it('finds a tenant by its external id (a site key: any; an account key: its own) and checks without consuming', async () => {
    const { owner, account } = await subscribedAccount(t.app)
    const other = await subscribedAccount(t.app)
    const tag = `crm-${Date.now()}`
    const site = await request('POST', '/v1/admin/api-keys', admin, {
      name: 'site',
      scopes: ['accounts:read', 'accounts:write', 'entitlements:read'],
    })
    const patched = await request('PATCH', `/v1/accounts/${account.id}`, site.json().key, {
      external_id: tag,
    })
    expect(patched.statusCode, patched.body).toBe(200)
    const mine = await request('POST', `/v1/accounts/${account.id}/api-keys`, owner.token, {
      name: 'mine',
      scopes: ['accounts:read', 'entitlements:read'],
    })
    const theirs = await request('POST', `/v1/accounts/${other.account.id}/api-keys`, other.owner.token, {
      name: 'theirs',
      scopes: ['accounts:read'],
    })
    const find = (key: string, query = `?external_id=${tag}`) => request('GET', `/v1/accounts${query}`, key)

    for (const key of [site.json().key, mine.json().key]) {
      const res = await find(key)
      expect(res.statusCode, res.body).toBe(200)
      expect(res.json().data.map((found: { id: string }) => found.id)).toEqual([account.id])
    }
    expect((await find(theirs.json().key)).json().data).toEqual([])
    expect((await find(mine.json().key, '')).json().data.map((found: { id: string }) => found.id)).toEqual([
      account.id,
    ])
    expect((await find(site.json().key, '')).statusCode).toBe(400)

    const check = await request('POST', `/v1/accounts/${account.id}/check`, site.json().key, {
      feature: 'staff',
      quantity: 2,
    })
    expect(check.statusCode, check.body).toBe(200)
    expect(check.json()).toMatchObject({ allowed: true, feature: 'staff', limit: 2, used: 0, remaining: 2 })
    const refused = await request('POST', `/v1/accounts/${other.account.id}/check`, mine.json().key, {
      feature: 'staff',
    })
    expect(refused.statusCode, refused.body).toBe(404)
  })
})
