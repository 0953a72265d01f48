// Limits under load: N requests fired at once through app.inject (on PostgreSQL they really run in
// parallel on the pool; on PGlite they are serialised), then the rows in the database are counted.

import { type SQL, sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
} from '../../../test/helpers/app.ts'
import { type TestDatabase, testPoolOptions } from '../../../test/helpers/db.ts'
import { openDatabase, queryRow } from '../../core/db.ts'

const parallel = 50
const timezone = 'Europe/Paris'
// One account-local day (Paris is UTC+2 in May); every booking below starts on it.
const day = '2031-05-14'
const startsAt = (i: number) =>
  `${day}T${String(8 + Math.floor(i / 6)).padStart(2, '0')}:${String((i % 6) * 10).padStart(2, '0')}:00+02:00`

function statusCounts(responses: LightMyRequestResponse[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const res of responses) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1
  return counts
}

describe('limits under concurrent requests', () => {
  let t: TestApp
  let adminToken: string
  beforeAll(async () => {
    t = await buildTestApp()
    adminToken = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const count = async (query: SQL): Promise<number> =>
    Number((await queryRow<{ n: number }>(t.deps.db, query))?.n ?? 0)

  const counterOf = async (
    accountId: string,
    feature: string,
    period: string,
  ): Promise<number | undefined> => {
    const row = await queryRow<{ used: number }>(
      t.deps.db,
      sql`select used from usage_counters
        where account_id = ${accountId}::uuid and feature = ${feature} and period = ${period}`,
    )
    return row === undefined ? undefined : Number(row.used)
  }

  const bookingsOn = (accountId: string, status?: 'confirmed') =>
    count(
      sql`select count(*)::int as n from bookings
        where account_id = ${accountId}::uuid and local_date = ${day}::date
        ${status ? sql`and status = ${status}` : sql``}`,
    )

  let planSequence = 0
  /** A plan created by the admin through the API, with the given limits and no price. */
  async function createPlan(limits: Record<string, number | null>): Promise<string> {
    const code = `conc-${Date.now().toString(36)}-${planSequence++}`
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(adminToken),
      payload: { code, name: `Concurrency ${code}`, price_cents: 0, limits },
    })
    expect(res.statusCode, res.body).toBe(201)
    return code
  }

  const createBooking = (app: TestApp['app'], token: string, accountId: string, i: number) =>
    app.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/bookings`,
      headers: bearer(token),
      payload: { customer_name: `Customer ${i}`, starts_at: startsAt(i) },
    })

  const expectLimitExceeded = (responses: LightMyRequestResponse[], feature: string, limit: number) => {
    for (const res of responses.filter((r) => r.statusCode === 403)) {
      expect(problemOf(res)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(res.json()).toMatchObject({ feature, limit })
      expect(res.json().used).toBeLessThanOrEqual(limit)
    }
  }

  it('admits exactly bookings_per_day (5 on basic) of 50 simultaneous bookings for one local day', async () => {
    const { owner, account } = await subscribedAccount(t.app, 'basic', timezone)
    const responses = await Promise.all(
      Array.from({ length: parallel }, (_, i) => createBooking(t.app, owner.token, account.id, i)),
    )
    expect(statusCounts(responses)).toEqual({ 201: 5, 403: 45 })
    expectLimitExceeded(responses, 'bookings_per_day', 5)
    expect(
      await count(sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid`),
    ).toBe(5)
    expect(await counterOf(account.id, 'bookings_per_day', day)).toBe(5)
  })

  it('admits exactly the staff limit of 50 simultaneous staff creations', async () => {
    const plan = await createPlan({ staff: 5, bookings_per_day: 5 })
    const { owner, account } = await subscribedAccount(t.app, plan)
    const responses = await Promise.all(
      Array.from({ length: parallel }, (_, i) =>
        t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/staff`,
          headers: bearer(owner.token),
          payload: { name: `Stylist ${i}` },
        }),
      ),
    )
    expect(statusCounts(responses)).toEqual({ 201: 5, 403: 45 })
    expectLimitExceeded(responses, 'staff', 5)
    expect(
      await count(
        sql`select count(*)::int as n from staff where account_id = ${account.id}::uuid and deleted_at is null`,
      ),
    ).toBe(5)
    expect(await counterOf(account.id, 'staff', '')).toBe(5)
  })

  it('admits exactly the limit of 50 simultaneous usage records of one unit', async () => {
    const plan = await createPlan({ api_calls_per_day: 5 })
    const { owner, account } = await subscribedAccount(t.app, plan)
    const responses = await Promise.all(
      Array.from({ length: parallel }, () =>
        t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/usage`,
          headers: bearer(owner.token),
          payload: { feature: 'api_calls_per_day', quantity: 1, date: day },
        }),
      ),
    )
    expect(statusCounts(responses)).toEqual({ 200: 5, 403: 45 })
    expectLimitExceeded(responses, 'api_calls_per_day', 5)
    // Each admitted call saw its own unit: the `used` figures are 1..5, each once.
    const used = responses.filter((r) => r.statusCode === 200).map((r) => r.json().used as number)
    expect(used.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5])
    expect(await counterOf(account.id, 'api_calls_per_day', day)).toBe(5)
  })

  it('changes nothing when 50 simultaneous usage calls try to free or fill staff and bookings_per_day', async () => {
    const { owner, account } = await subscribedAccount(t.app, 'basic', timezone)
    for (const name of ['Ann', 'Bea']) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/staff`,
        headers: bearer(owner.token),
        payload: { name },
      })
      expect(res.statusCode, res.body).toBe(201)
    }
    const full = await Promise.all(
      Array.from({ length: 5 }, (_, i) => createBooking(t.app, owner.token, account.id, i)),
    )
    expect(statusCounts(full)).toEqual({ 201: 5 })
    const counters = () =>
      count(
        sql`select coalesce(sum(used), 0)::int as n from usage_counters where account_id = ${account.id}::uuid`,
      )
    const before = {
      staff: await counterOf(account.id, 'staff', ''),
      day: await counterOf(account.id, 'bookings_per_day', day),
    }
    const total = await counters()

    // Releases and fills of both resource-backed features, with and without a date or a key, at once.
    const quantities = [-2, -1, 1, 3, -5]
    const responses = await Promise.all(
      Array.from({ length: parallel }, (_, i) => {
        const feature = i % 2 === 0 ? 'staff' : 'bookings_per_day'
        return t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/usage`,
          headers:
            i % 3 === 0 ? { ...bearer(owner.token), 'idempotency-key': `burst-${i}` } : bearer(owner.token),
          payload: {
            feature,
            quantity: quantities[i % quantities.length],
            ...(i % 4 === 1 && { date: day }),
          },
        })
      }),
    )
    expect(statusCounts(responses)).toEqual({ 400: parallel })
    for (const res of responses) expect(problemOf(res)).toMatchObject({ code: 'feature_not_metered' })

    expect(before).toEqual({ staff: 2, day: 5 })
    expect(await counterOf(account.id, 'staff', '')).toBe(2)
    expect(await counterOf(account.id, 'bookings_per_day', day)).toBe(5)
    expect(await counters()).toBe(total)
    // Still full: the third staff member and the sixth booking of the day are refused.
    const third = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${account.id}/staff`,
      headers: bearer(owner.token),
      payload: { name: 'Cid' },
    })
    expectLimitExceeded([third], 'staff', 2)
    expect(third.statusCode).toBe(403)
    const sixth = await createBooking(t.app, owner.token, account.id, 5)
    expectLimitExceeded([sixth], 'bookings_per_day', 5)
    expect(sixth.statusCode).toBe(403)
  })

  it('lets exactly one of 50 simultaneous subscribes win; the rest get 409 and leave nothing behind', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token)
    const responses = await Promise.all(
      Array.from({ length: parallel }, () =>
        t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/subscription`,
          headers: bearer(owner.token),
          payload: { plan: 'basic' },
        }),
      ),
    )
    expect(statusCounts(responses)).toEqual({ 201: 1, 409: 49 })
    for (const res of responses.filter((r) => r.statusCode === 409)) {
      expect(problemOf(res)).toMatchObject({ status: 409, code: 'conflict' })
    }
    const accountRows = sql`account_id = ${account.id}::uuid`
    expect(
      await count(
        sql`select count(*)::int as n from subscriptions where ${accountRows} and status <> 'expired'`,
      ),
    ).toBe(1)
    // The losers' transactions rolled back whole: one subscription, one history event, one invoice.
    expect(await count(sql`select count(*)::int as n from subscriptions where ${accountRows}`)).toBe(1)
    expect(await count(sql`select count(*)::int as n from subscription_events where ${accountRows}`)).toBe(1)
    expect(await count(sql`select count(*)::int as n from invoices where ${accountRows}`)).toBe(1)
  })

  it('keeps the day counter equal to the confirmed bookings when cancels and creates interleave', async () => {
    const limit = 25
    const plan = await createPlan({ staff: 1, bookings_per_day: limit })
    const { owner, account } = await subscribedAccount(t.app, plan, timezone)
    const existing = await Promise.all(
      Array.from({ length: limit }, (_, i) => createBooking(t.app, owner.token, account.id, i)),
    )
    expect(statusCounts(existing)).toEqual({ 201: limit })
    const toCancel = existing.map((res) => res.json().id as string)

    // 25 cancels and 50 creates, interleaved (create, create, cancel, ...), all fired at once.
    const requests: Promise<LightMyRequestResponse>[] = []
    const kinds: ('create' | 'cancel')[] = []
    for (let i = 0; i < limit; i++) {
      for (const n of [0, 1]) {
        kinds.push('create')
        requests.push(createBooking(t.app, owner.token, account.id, limit + 2 * i + n))
      }
      kinds.push('cancel')
      requests.push(
        t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/bookings/${toCancel[i]}/cancel`,
          headers: bearer(owner.token),
        }),
      )
    }
    const responses = await Promise.all(requests)
    const creates = responses.filter((_, i) => kinds[i] === 'create')
    const cancels = responses.filter((_, i) => kinds[i] === 'cancel')

    expect(statusCounts(cancels)).toEqual({ 200: limit })
    const created = creates.filter((r) => r.statusCode === 201).length
    expect(created + creates.filter((r) => r.statusCode === 403).length).toBe(2 * limit)
    expectLimitExceeded(creates, 'bookings_per_day', limit)
    // The day started full, so each admitted create used a unit a cancel had freed.
    expect(created).toBeLessThanOrEqual(limit)

    const confirmed = await bookingsOn(account.id, 'confirmed')
    expect(confirmed).toBe(created)
    expect(await counterOf(account.id, 'bookings_per_day', day)).toBe(confirmed)
    expect(await bookingsOn(account.id)).toBe(limit + created)
  })

  describe('two app instances on one database', () => {
    let second: TestApp
    let secondDb: TestDatabase | undefined
    beforeAll(async () => {
      // On PostgreSQL the second instance gets its own pool, like a second process; PGlite has a
      // single connection, so there the instances share it and the test is trivially serialised.
      const url = t.testDb.url
      if (url) {
        const database = await openDatabase({ url, ...testPoolOptions })
        secondDb = { database, url, drop: () => database.close() }
      }
      second = await buildTestApp({}, { testDb: secondDb ?? t.testDb })
    })
    afterAll(async () => {
      await second?.close()
      await secondDb?.drop()
    })

    it('admits exactly bookings_per_day of 50 bookings split across both instances', async () => {
      const { owner, account } = await subscribedAccount(t.app, 'basic', timezone)
      const responses = await Promise.all(
        Array.from({ length: parallel }, (_, i) =>
          createBooking(i % 2 === 0 ? t.app : second.app, owner.token, account.id, i),
        ),
      )
      expect(statusCounts(responses)).toEqual({ 201: 5, 403: 45 })
      expectLimitExceeded(responses, 'bookings_per_day', 5)
      expect(
        await count(sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid`),
      ).toBe(5)
      expect(await counterOf(account.id, 'bookings_per_day', day)).toBe(5)
    })
  })
})
