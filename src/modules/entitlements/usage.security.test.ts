// The usage API against the feature catalogue (hardening issue, items 1 and 11): resource-backed
// features cannot be freed or filled through it, and an unknown key is 404 unknown_feature, not
// "the plan allows 0".
import { readFileSync } from 'node:fs'
import { sql } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribe,
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'
import { expectData, testClient } from '../../../test/helpers/client.ts'
import { queryRows } from '../../core/db.ts'
import { resourceFeatureKeys } from '../plans/features.ts'

describe('usage API and the feature catalogue', () => {
  let t: TestApp
  let adminToken: string
  beforeAll(async () => {
    t = await buildTestApp()
    adminToken = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  /** A plan created by the site admin through the API. */
  const createPlan = async (body: Record<string, unknown>) => {
    const code = uniqueCode('catalogue')
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(adminToken),
      payload: { code, name: 'Catalogue', price_cents: 900, ...body },
    })
    expect(res.statusCode, res.body).toBe(201)
    return code
  }

  /** An owner's account on `plan` (or none), and a second user holding the `member` role in it. */
  const setup = async (plan: string | null = 'basic') => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token)
    if (plan) await subscribe(t.app, owner.token, account.id, plan)
    const member = await registerAndLogin(t.app)
    await t.deps.db.execute(
      sql`insert into account_members (account_id, user_id, role) values (${account.id}::uuid, ${member.id}::uuid, 'member')`,
    )
    return { owner, member, accountId: account.id }
  }

  const usage = (user: TestUser, accountId: string, payload: Record<string, unknown>, key?: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/usage`,
      headers: key ? { ...bearer(user.token), 'idempotency-key': key } : bearer(user.token),
      payload,
    })

  const addStaff = (user: TestUser, accountId: string, name: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/staff`,
      headers: bearer(user.token),
      payload: { name },
    })

  const book = (user: TestUser, accountId: string, startsAt: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/bookings`,
      headers: bearer(user.token),
      payload: { customer_name: 'Client', starts_at: startsAt },
    })

  const entitlements = (user: TestUser, accountId: string, date?: string) =>
    expectData(
      testClient(t.app, user.token).GET('/v1/accounts/{accountId}/entitlements', {
        params: { path: { accountId }, query: date ? { date } : {} },
      }),
      200,
    )

  /** Every counter row of the account, so "nothing changed" covers rows no figure shows. */
  const counters = (accountId: string) =>
    queryRows<{ feature: string; period: string; used: number }>(
      t.deps.db,
      sql`select feature, period, used from usage_counters where account_id = ${accountId}::uuid order by feature, period`,
    )

  const expectNotMetered = (res: LightMyRequestResponse, feature: string) => {
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'feature_not_metered' })
    expect(problemOf(res).contentType).toMatch(/^application\/problem\+json/)
    expect(res.json()).toMatchObject({ feature })
  }

  const expectUnknown = (res: LightMyRequestResponse, feature: string) => {
    expect(problemOf(res)).toMatchObject({ status: 404, code: 'unknown_feature' })
    expect(res.json()).toMatchObject({ feature })
    expect(res.json().detail).not.toMatch(/allows 0/)
  }

  describe('resource-backed features cannot be freed or filled through the usage API', () => {
    it('a member releasing staff (quantity -2) to add a third and fourth staff member on a limit of 2 is refused, and the third is still refused', async () => {
      const { owner, member, accountId } = await setup('basic')
      for (const name of ['Ann', 'Bea']) expect((await addStaff(owner, accountId, name)).statusCode).toBe(201)
      const before = await entitlements(owner, accountId)
      const rows = await counters(accountId)

      expectNotMetered(await usage(member, accountId, { feature: 'staff', quantity: -2 }), 'staff')
      expectNotMetered(
        await usage(owner, accountId, { feature: 'staff', quantity: -1 }, uniqueCode('k')),
        'staff',
      )

      expect(await counters(accountId)).toEqual(rows)
      expect(await entitlements(owner, accountId)).toEqual(before)
      expect(before.features.staff).toMatchObject({ limit: 2, used: 2, remaining: 0, over_limit: false })
      const third = await addStaff(owner, accountId, 'Cid')
      expect(problemOf(third)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(third.json()).toMatchObject({ feature: 'staff', limit: 2, used: 2 })
    })

    it('a member releasing bookings_per_day on a full day to book a sixth is refused, and the sixth is still refused', async () => {
      const { owner, member, accountId } = await setup('basic')
      const day = '2031-09-09'
      for (let hour = 9; hour < 14; hour++) {
        expect(
          (await book(member, accountId, `${day}T${String(hour).padStart(2, '0')}:00:00Z`)).statusCode,
        ).toBe(201)
      }
      const before = await entitlements(owner, accountId, day)
      const rows = await counters(accountId)

      for (const payload of [
        { feature: 'bookings_per_day', quantity: -5, date: day },
        { feature: 'bookings_per_day', quantity: -1 },
      ]) {
        expectNotMetered(await usage(member, accountId, payload), 'bookings_per_day')
      }

      expect(await counters(accountId)).toEqual(rows)
      expect(await entitlements(owner, accountId, day)).toEqual(before)
      expect(before.features.bookings_per_day).toMatchObject({ limit: 5, used: 5, remaining: 0 })
      const sixth = await book(member, accountId, `${day}T15:00:00Z`)
      expect(problemOf(sixth)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(sixth.json()).toMatchObject({ feature: 'bookings_per_day', limit: 5, used: 5 })
    })

    it('a member filling staff and bookings_per_day without rows (positive quantities) is refused, and the owner can still add them', async () => {
      const { owner, member, accountId } = await setup('basic')
      const day = '2031-09-10'
      for (const payload of [
        { feature: 'staff', quantity: 2 },
        { feature: 'staff', quantity: 1 },
        { feature: 'bookings_per_day', quantity: 5, date: day },
        { feature: 'bookings_per_day', quantity: 1 },
      ]) {
        expectNotMetered(await usage(member, accountId, payload), payload.feature)
      }
      expect(await counters(accountId)).toEqual([])
      const ent = await entitlements(owner, accountId, day)
      expect(ent.features.staff).toMatchObject({ used: 0, remaining: 2 })
      expect(ent.features.bookings_per_day).toMatchObject({ used: 0, remaining: 5 })

      for (const name of ['Ann', 'Bea']) expect((await addStaff(owner, accountId, name)).statusCode).toBe(201)
      for (let hour = 9; hour < 14; hour++) {
        expect(
          (await book(owner, accountId, `${day}T${String(hour).padStart(2, '0')}:00:00Z`)).statusCode,
        ).toBe(201)
      }
    })

    it('refuses a resource-backed feature even without a subscription, and names the routes that change it', async () => {
      const { owner, accountId } = await setup(null)
      const staff = await usage(owner, accountId, { feature: 'staff', quantity: 1 })
      expectNotMetered(staff, 'staff')
      expect(staff.json().detail).toContain('/v1/accounts/{id}/staff')
      const bookings = await usage(owner, accountId, { feature: 'bookings_per_day', quantity: -1 })
      expectNotMetered(bookings, 'bookings_per_day')
      expect(bookings.json().detail).toContain('/v1/accounts/{id}/bookings')
    })

    it('does not store the refusal under its Idempotency-Key: the key stays free for a metered feature', async () => {
      const plan = await createPlan({ limits: { staff: 2, bookings_per_day: 5, credits: 3 } })
      const { owner, accountId } = await setup(plan)
      const key = uniqueCode('key')
      expectNotMetered(await usage(owner, accountId, { feature: 'staff', quantity: -1 }, key), 'staff')
      expectNotMetered(await usage(owner, accountId, { feature: 'staff', quantity: -1 }, key), 'staff')
      const metered = await usage(owner, accountId, { feature: 'credits', quantity: 1 }, key)
      expect(metered.statusCode, metered.body).toBe(200)
      expect(metered.json()).toMatchObject({ feature: 'credits', used: 1, remaining: 2 })
    })
  })

  describe('unknown and known feature keys', () => {
    it('answers 404 unknown_feature to a key no plan names, on consume and on release, changing nothing', async () => {
      const { owner, member, accountId } = await setup('basic')
      const feature = 'video_minutes_per_month'
      for (const quantity of [1, -1]) {
        expectUnknown(await usage(member, accountId, { feature, quantity }), feature)
        expectUnknown(await usage(owner, accountId, { feature, quantity }, uniqueCode('k')), feature)
      }
      expect(await counters(accountId)).toEqual([])
      expect((await entitlements(owner, accountId)).features[feature]).toBeUndefined()
    })

    it('answers 404 unknown_feature before subscription_required: the key is wrong whatever the account', async () => {
      const { owner, accountId } = await setup(null)
      expectUnknown(
        await usage(owner, accountId, { feature: 'no_such_feature', quantity: 1 }),
        'no_such_feature',
      )
    })

    it('still answers 404 not_found to a non-member and 401 to a deactivated member, whatever the feature', async () => {
      const { member, accountId } = await setup('basic')
      const stranger = await registerAndLogin(t.app)
      for (const feature of ['no_such_feature', 'staff', 'bookings_per_day']) {
        const res = await usage(stranger, accountId, { feature, quantity: -1 })
        expect(problemOf(res), feature).toMatchObject({ status: 404, code: 'not_found' })
      }
      await t.deps.db.execute(sql`update users set is_active = false where id = ${member.id}::uuid`)
      for (const feature of ['no_such_feature', 'staff', 'bookings_per_day']) {
        const res = await usage(member, accountId, { feature, quantity: 1 })
        expect(problemOf(res), feature).toMatchObject({ status: 401, code: 'unauthorized' })
      }
    })

    it('does not grant a known feature the account’s plan lacks: consume is limit 0, release stays at zero', async () => {
      // Another plan (retired, even) names the key, so it is known; the account is on basic.
      const other = await createPlan({ limits: { sms_per_month: 100 } })
      const retired = await t.app.inject({
        method: 'DELETE',
        url: `/v1/plans/${other}`,
        headers: bearer(adminToken),
      })
      expect(retired.statusCode, retired.body).toBe(204)
      const { owner, accountId } = await setup('basic')

      const consume = await usage(owner, accountId, { feature: 'sms_per_month', quantity: 1 })
      expect(problemOf(consume)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(consume.json()).toMatchObject({ feature: 'sms_per_month', limit: 0, used: 0 })

      const release = await usage(owner, accountId, { feature: 'sms_per_month', quantity: -1 })
      expect(release.statusCode, release.body).toBe(200)
      expect(release.json()).toMatchObject({ feature: 'sms_per_month', limit: 0, used: 0, remaining: 0 })
      expect(await counters(accountId)).toEqual([])
    })

    it('refuses a key plans use only as a flag with 400 feature_not_metered, on consume and release', async () => {
      await createPlan({ features: { priority_support: true } })
      const { owner, accountId } = await setup('basic')
      for (const quantity of [1, -1]) {
        expectNotMetered(
          await usage(owner, accountId, { feature: 'priority_support', quantity }),
          'priority_support',
        )
      }
      expect(await counters(accountId)).toEqual([])
    })

    it('shows the resource-backed features of a plan that lacks them as not included (limit 0)', async () => {
      const plan = await createPlan({ limits: { credits: 3 }, features: { exports: true } })
      const { owner, accountId } = await setup(plan)
      const ent = await entitlements(owner, accountId)
      expect(ent.features).toMatchObject({
        staff: { kind: 'count', limit: 0, used: 0, remaining: 0, over_limit: false },
        bookings_per_day: { kind: 'per_day', limit: 0, used: 0, remaining: 0, over_limit: false },
        credits: { kind: 'count', limit: 3, used: 0, remaining: 3 },
        exports: { kind: 'boolean', enabled: true },
      })
      const refused = await addStaff(owner, accountId, 'Ann')
      expect(problemOf(refused)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(refused.json()).toMatchObject({ feature: 'staff', limit: 0, used: 0 })
    })
  })

  describe('the declared list is what the docs say', () => {
    it('the OpenAPI description of recordUsage names each resource-backed feature and both refusal codes', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<string, Record<string, { operationId?: string; description?: string }>>
      }
      const op = Object.values(doc.paths)
        .flatMap((methods) => Object.values(methods))
        .find((candidate) => candidate.operationId === 'recordUsage')
      const description = op?.description ?? ''
      for (const feature of resourceFeatureKeys) expect(description).toContain(`\`${feature}\``)
      expect(description).toContain('feature_not_metered')
      expect(description).toContain('unknown_feature')
    })

    it('the README names each resource-backed feature where it documents the usage API', () => {
      const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
      const line = readme.split('\n').find((text) => text.startsWith('Resource-backed features:'))
      expect(line, 'README line "Resource-backed features: …"').toBeDefined()
      const named = [...(line ?? '').matchAll(/`([a-z][a-z0-9_]*)`/g)].map((match) => match[1])
      expect(named.sort()).toEqual([...resourceFeatureKeys].sort())
    })
  })
})
