// Idempotency-Key on creating POSTs (`idempotent()` in http.ts): a retry with the same key replays
// the first response and creates nothing; keys are per user; failures are not stored; keys expire.
import { randomUUID } from 'node:crypto'
import { type SQL, sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
  type TestUser,
} from '../../test/helpers/app.ts'
import { queryRow } from './db.ts'

const day = '2031-06-03'
const booking = (i: number) => ({ customer_name: `Customer ${i}`, starts_at: `${day}T${10 + i}:00:00Z` })
const newKey = () => `key-${randomUUID()}`

describe('Idempotency-Key', () => {
  let t: TestApp
  // A plan with room for every feature used below, so only the idempotency rules are under test.
  let plan: string
  beforeAll(async () => {
    t = await buildTestApp()
    plan = `idem-${Date.now().toString(36)}`
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(await loginAdmin(t.app)),
      payload: {
        code: plan,
        name: 'Idempotency',
        price_cents: 1500,
        limits: { staff: 5, bookings_per_day: 5, api_calls_per_day: 10 },
      },
    })
    expect(res.statusCode, res.body).toBe(201)
  })
  afterAll(async () => {
    await t?.close()
  })

  const post = (token: string, url: string, payload: object, key?: string) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...bearer(token), ...(key !== undefined && { 'idempotency-key': key }) },
      payload,
    })

  const count = async (query: SQL): Promise<number> =>
    Number((await queryRow<{ n: number }>(t.deps.db, query))?.n ?? 0)

  const storedKeys = (user: TestUser, key: string) =>
    count(sql`select count(*)::int as n from idempotency_keys where principal = ${user.id} and key = ${key}`)

  const expectReplayOf = (replay: LightMyRequestResponse, first: LightMyRequestResponse) => {
    expect(replay.statusCode, replay.body).toBe(first.statusCode)
    expect(replay.json()).toEqual(first.json())
    expect(replay.headers['idempotent-replayed']).toBe('true')
  }

  interface Case {
    resource: string
    status: number
    /** Creates what the request needs; returns the request and a count of what it creates. */
    arrange(): Promise<{ user: TestUser; url: string; payload: object; created(): Promise<number> }>
  }

  const cases: Case[] = [
    {
      resource: 'accounts',
      status: 201,
      async arrange() {
        const user = await registerAndLogin(t.app)
        return {
          user,
          url: '/v1/accounts',
          payload: { name: 'Idempotent salon' },
          created: () =>
            count(sql`select count(*)::int as n from accounts where created_by = ${user.id}::uuid`),
        }
      },
    },
    {
      resource: 'staff',
      status: 201,
      async arrange() {
        const { owner, account } = await subscribedAccount(t.app, plan)
        return {
          user: owner,
          url: `/v1/accounts/${account.id}/staff`,
          payload: { name: 'Ann' },
          created: () =>
            count(sql`select count(*)::int as n from staff where account_id = ${account.id}::uuid`),
        }
      },
    },
    {
      resource: 'bookings',
      status: 201,
      async arrange() {
        const { owner, account } = await subscribedAccount(t.app, plan)
        return {
          user: owner,
          url: `/v1/accounts/${account.id}/bookings`,
          payload: booking(0),
          created: () =>
            count(sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid`),
        }
      },
    },
    {
      resource: 'subscription',
      status: 201,
      async arrange() {
        const owner = await registerAndLogin(t.app)
        const account = await createAccount(t.app, owner.token)
        return {
          user: owner,
          url: `/v1/accounts/${account.id}/subscription`,
          payload: { plan },
          // Subscription × invoice pairs: a second subscription or a second charge would both show.
          created: () =>
            count(sql`select count(*)::int as n from subscriptions s join invoices i on i.subscription_id = s.id
              where s.account_id = ${account.id}::uuid`),
        }
      },
    },
    {
      resource: 'usage',
      status: 200,
      async arrange() {
        const { owner, account } = await subscribedAccount(t.app, plan)
        return {
          user: owner,
          url: `/v1/accounts/${account.id}/usage`,
          payload: { feature: 'api_calls_per_day', quantity: 1, date: day },
          created: () =>
            count(sql`select coalesce(sum(used), 0)::int as n from usage_counters
              where account_id = ${account.id}::uuid and feature = 'api_calls_per_day'`),
        }
      },
    },
  ]

  describe('a retry with the same key and body replays the first response and creates nothing', () => {
    it.each(cases)('$resource', async ({ status, arrange }) => {
      const { user, url, payload, created } = await arrange()
      const key = newKey()
      const first = await post(user.token, url, payload, key)
      expect(first.statusCode, first.body).toBe(status)
      expect(first.headers['idempotent-replayed']).toBeUndefined()
      expect(await created()).toBe(1)

      for (let retry = 0; retry < 2; retry++) {
        expectReplayOf(await post(user.token, url, payload, key), first)
      }
      expect(await created()).toBe(1)
      expect(await storedKeys(user, key)).toBe(1)

      // Without a key the same request is a new command (or, for the subscription, a conflict).
      const unkeyed = await post(user.token, url, payload)
      expect(unkeyed.headers['idempotent-replayed']).toBeUndefined()
    })
  })

  it('creates one booking for 50 concurrent requests with one key, and answers each with the same 201', async () => {
    const { owner, account } = await subscribedAccount(t.app, plan)
    const key = newKey()
    const url = `/v1/accounts/${account.id}/bookings`
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(owner.token, url, booking(1), key)),
    )
    expect(responses.map((res) => res.statusCode)).toEqual(Array(50).fill(201))
    const ids = new Set(responses.map((res) => res.json().id))
    expect(ids.size).toBe(1)
    // The request that ran the command answers normally; every other one is a replay of it.
    expect(responses.filter((res) => res.headers['idempotent-replayed'] === 'true')).toHaveLength(49)
    expect(
      await count(sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid`),
    ).toBe(1)
    expect(
      await count(sql`select used as n from usage_counters
        where account_id = ${account.id}::uuid and feature = 'bookings_per_day' and period = ${day}`),
    ).toBe(1)
  })

  it('turns 50 concurrent subscribes with one key into one subscription and 50 identical 201s (not 409s)', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token)
    const key = newKey()
    const url = `/v1/accounts/${account.id}/subscription`
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => post(owner.token, url, { plan }, key)),
    )
    expect(responses.map((res) => res.statusCode)).toEqual(Array(50).fill(201))
    expect(new Set(responses.map((res) => res.body)).size).toBe(1)
    expect(
      await count(sql`select count(*)::int as n from subscriptions where account_id = ${account.id}::uuid`),
    ).toBe(1)
    expect(
      await count(sql`select count(*)::int as n from invoices where account_id = ${account.id}::uuid`),
    ).toBe(1)
  })

  it('answers 409 conflict to the same key with a different body or path, and creates nothing', async () => {
    const { owner, account } = await subscribedAccount(t.app, plan)
    const other = await createAccount(t.app, owner.token)
    await post(owner.token, `/v1/accounts/${other.id}/subscription`, { plan })
    const key = newKey()
    const url = `/v1/accounts/${account.id}/bookings`
    const first = await post(owner.token, url, booking(2), key)
    expect(first.statusCode, first.body).toBe(201)

    const otherBody = await post(owner.token, url, booking(3), key)
    expect(problemOf(otherBody)).toMatchObject({ status: 409, code: 'conflict' })
    const otherPath = await post(owner.token, `/v1/accounts/${other.id}/bookings`, booking(2), key)
    expect(problemOf(otherPath)).toMatchObject({ status: 409, code: 'conflict' })

    const bookingsOf = (accountId: string) =>
      count(sql`select count(*)::int as n from bookings where account_id = ${accountId}::uuid`)
    expect(await bookingsOf(account.id)).toBe(1)
    expect(await bookingsOf(other.id)).toBe(0)
    // The first response is still the one a retry gets.
    expectReplayOf(await post(owner.token, url, booking(2), key), first)
  })

  it('keeps keys per user: another user sending the same key gets its own result', async () => {
    const { owner, account } = await subscribedAccount(t.app, plan)
    const colleague = await registerAndLogin(t.app)
    await addMember(t, owner.token, account.id, colleague)
    const key = newKey()
    const url = `/v1/accounts/${account.id}/bookings`

    const mine = await post(owner.token, url, booking(4), key)
    const theirs = await post(colleague.token, url, booking(4), key)
    expect(mine.statusCode, mine.body).toBe(201)
    expect(theirs.statusCode, theirs.body).toBe(201)
    expect(theirs.headers['idempotent-replayed']).toBeUndefined()
    expect(theirs.json().id).not.toBe(mine.json().id)
    expect(
      await count(sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid`),
    ).toBe(2)
    // And a different body under the other user's key is no conflict for this user.
    const accountsKey = newKey()
    expect((await post(owner.token, '/v1/accounts', { name: 'A' }, accountsKey)).statusCode).toBe(201)
    expect((await post(colleague.token, '/v1/accounts', { name: 'B' }, accountsKey)).statusCode).toBe(201)
  })

  it('does not store a failed request: after a unit is freed, the retry with the same key succeeds', async () => {
    const { owner, account } = await subscribedAccount(t.app, plan)
    const url = `/v1/accounts/${account.id}/bookings`
    const existing: string[] = []
    for (let i = 0; i < 5; i++) {
      const res = await post(owner.token, url, booking(i))
      expect(res.statusCode, res.body).toBe(201)
      existing.push(res.json().id)
    }
    const key = newKey()
    const refused = await post(owner.token, url, booking(5), key)
    expect(problemOf(refused)).toMatchObject({ status: 403, code: 'limit_exceeded' })
    expect(await storedKeys(owner, key)).toBe(0)
    const again = await post(owner.token, url, booking(5), key)
    expect(problemOf(again)).toMatchObject({ status: 403, code: 'limit_exceeded' })
    expect(again.headers['idempotent-replayed']).toBeUndefined()

    const canceled = await t.app.inject({
      method: 'POST',
      url: `${url}/${existing[0]}/cancel`,
      headers: bearer(owner.token),
    })
    expect(canceled.statusCode, canceled.body).toBe(200)

    const retried = await post(owner.token, url, booking(5), key)
    expect(retried.statusCode, retried.body).toBe(201)
    expect(retried.headers['idempotent-replayed']).toBeUndefined()
    expect(await storedKeys(owner, key)).toBe(1)
    expectReplayOf(await post(owner.token, url, booking(5), key), retried)
    expect(
      await count(
        sql`select count(*)::int as n from bookings where account_id = ${account.id}::uuid and status = 'confirmed'`,
      ),
    ).toBe(5)
  })

  it('replays a key for 24 hours and lets it be used again after that', async () => {
    // The window is checked against the database's now(), not the app clock, so the key's row is
    // aged in the database instead of advancing the ManualClock.
    const user = await registerAndLogin(t.app)
    const key = newKey()
    const age = (hours: number) =>
      t.deps.db.execute(
        sql`update idempotency_keys set created_at = now() - make_interval(hours => ${hours})
          where principal = ${user.id} and key = ${key}`,
      )
    const accountsOf = () =>
      count(sql`select count(*)::int as n from accounts where created_by = ${user.id}::uuid`)

    const first = await post(user.token, '/v1/accounts', { name: 'First' }, key)
    expect(first.statusCode, first.body).toBe(201)

    await age(23)
    expectReplayOf(await post(user.token, '/v1/accounts', { name: 'First' }, key), first)
    // Still inside the window, so a different body is still a conflict.
    expect(problemOf(await post(user.token, '/v1/accounts', { name: 'Second' }, key))).toMatchObject({
      status: 409,
      code: 'conflict',
    })
    expect(await accountsOf()).toBe(1)

    await age(25)
    const reused = await post(user.token, '/v1/accounts', { name: 'Second' }, key)
    expect(reused.statusCode, reused.body).toBe(201)
    expect(reused.headers['idempotent-replayed']).toBeUndefined()
    expect(reused.json().id).not.toBe(first.json().id)
    expect(await accountsOf()).toBe(2)
    // The reused key now replays its new response.
    expectReplayOf(await post(user.token, '/v1/accounts', { name: 'Second' }, key), reused)
    expect(await storedKeys(user, key)).toBe(1)
  })
})
