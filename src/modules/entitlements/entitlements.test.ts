import type { LightMyRequestResponse } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
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
import { type components, expectData, type paths, testClient } from '../../../test/helpers/client.ts'

type Booking = components['schemas']['Booking']
type Staff = components['schemas']['Staff']
type BookingPage =
  paths['/v1/accounts/{accountId}/bookings']['get']['responses'][200]['content']['application/json']

describe('entitlements engine', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterEach(() => {
    t.clock.set(new Date())
  })
  afterAll(async () => {
    await t?.close()
  })

  /** Requests on one account as one user. */
  const client = (user: TestUser, accountId: string) => {
    const headers = bearer(user.token)
    const url = `/v1/accounts/${accountId}`
    const api = testClient(t.app, user.token)
    const path = { accountId }
    return {
      accountId,
      addStaff: (name: string) =>
        t.app.inject({ method: 'POST', url: `${url}/staff`, headers, payload: { name } }),
      deleteStaff: (staffId: string) =>
        t.app.inject({ method: 'DELETE', url: `${url}/staff/${staffId}`, headers }),
      listStaff: () =>
        expectData(
          api.GET('/v1/accounts/{accountId}/staff', { params: { path, query: { limit: 100 } } }),
          200,
        ),
      book: (startsAt: string, extra: Record<string, unknown> = {}) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/bookings`,
          headers,
          payload: { customer_name: 'Client', starts_at: startsAt, ...extra },
        }),
      cancelBooking: (bookingId: string) =>
        t.app.inject({ method: 'POST', url: `${url}/bookings/${bookingId}/cancel`, headers }),
      listBookings: (query: string) =>
        t.app.inject({ method: 'GET', url: `${url}/bookings${query}`, headers }),
      entitlements: (date?: string) =>
        expectData(
          api.GET('/v1/accounts/{accountId}/entitlements', { params: { path, query: date ? { date } : {} } }),
          200,
        ),
      usage: (payload: Record<string, unknown>, idempotencyKey?: string) =>
        t.app.inject({
          method: 'POST',
          url: `${url}/usage`,
          headers: idempotencyKey ? { ...headers, 'idempotency-key': idempotencyKey } : headers,
          payload,
        }),
    }
  }

  /** An owner and an account (optionally in a time zone), subscribed to `plan` unless it is null. */
  const setup = async (plan: string | null = 'basic', timezone?: string) => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, timezone ? { timezone } : {})
    if (plan) await subscribe(t.app, owner.token, account.id, plan)
    return { owner, account, api: client(owner, account.id) }
  }

  const created = <T>(res: LightMyRequestResponse): T => {
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as T
  }

  describe('shape', () => {
    it('describes plan, status and each feature as PRODUCT.md §4 says', async () => {
      const { account, api } = await setup('basic', 'Europe/Paris')
      const ent = await api.entitlements('2030-03-10')
      expect(ent).toEqual({
        account_id: account.id,
        plan: 'basic',
        status: 'active',
        has_access: true,
        timezone: 'Europe/Paris',
        features: {
          staff: { kind: 'count', limit: 2, used: 0, remaining: 2, over_limit: false },
          bookings_per_day: {
            kind: 'per_day',
            date: '2030-03-10',
            limit: 5,
            used: 0,
            remaining: 5,
            resets_at: '2030-03-10T23:00:00.000Z',
            over_limit: false,
          },
        },
      })
    })

    it('hides a foreign account’s entitlements (404) and validates the date (400)', async () => {
      const { owner, account } = await setup('basic')
      const stranger = await registerAndLogin(t.app)
      const foreign = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}/entitlements`,
        headers: bearer(stranger.token),
      })
      expect(problemOf(foreign)).toMatchObject({ status: 404, code: 'not_found' })
      const anonymous = await t.app.inject({ method: 'GET', url: `/v1/accounts/${account.id}/entitlements` })
      expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })
      for (const date of ['2030-02-30', '15-01-2030', 'tomorrow']) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/accounts/${account.id}/entitlements?date=${date}`,
          headers: bearer(owner.token),
        })
        expect(problemOf(res), date).toMatchObject({ status: 400, code: 'validation_failed' })
      }
    })
  })

  describe('per-day limits count days in the account time zone', () => {
    it('America/New_York: 23:30 on day D and 00:30 on D+1 count on different days though both are the same UTC date', async () => {
      const { api } = await setup('basic', 'America/New_York')
      // 19:00–23:30 EST on Jan 15 are 00:00–04:30 UTC on Jan 16.
      const lateEvening = ['19:00', '20:00', '21:00', '22:00', '23:30'].map(
        (time) => `2030-01-15T${time}:00-05:00`,
      )
      for (const startsAt of lateEvening) {
        expect(created<Booking>(await api.book(startsAt)).local_date).toBe('2030-01-15')
      }
      // The same UTC date (Jan 16), written in UTC: still the 15th in New York, which is full.
      const sixth = await api.book('2030-01-16T04:45:00Z')
      expect(problemOf(sixth)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(sixth.json()).toMatchObject({ feature: 'bookings_per_day', limit: 5, used: 5 })

      // 00:30 EST on Jan 16 = 05:30 UTC on Jan 16: a new local day with room.
      const nextDay = created<Booking>(await api.book('2030-01-16T00:30:00-05:00'))
      expect(nextDay.local_date).toBe('2030-01-16')
      expect(nextDay.starts_at).toBe('2030-01-16T05:30:00.000Z')

      expect((await api.entitlements('2030-01-15')).features.bookings_per_day).toEqual({
        kind: 'per_day',
        date: '2030-01-15',
        limit: 5,
        used: 5,
        remaining: 0,
        resets_at: '2030-01-16T05:00:00.000Z',
        over_limit: false,
      })
      expect((await api.entitlements('2030-01-16')).features.bookings_per_day).toMatchObject({
        date: '2030-01-16',
        used: 1,
        remaining: 4,
        resets_at: '2030-01-17T05:00:00.000Z',
      })
    })

    it('America/New_York: bookings on two UTC dates count on one local day when the local date is the same', async () => {
      const { api } = await setup('basic', 'America/New_York')
      // 10:00 EST = 15:00 UTC on the 20th; 21:00 EST = 02:00 UTC on the 21st.
      const morning = created<Booking>(await api.book('2030-01-20T10:00:00-05:00'))
      const night = created<Booking>(await api.book('2030-01-21T02:00:00Z'))
      expect([morning.local_date, night.local_date]).toEqual(['2030-01-20', '2030-01-20'])
      expect((await api.entitlements('2030-01-20')).features.bookings_per_day).toMatchObject({ used: 2 })
      expect((await api.entitlements('2030-01-21')).features.bookings_per_day).toMatchObject({ used: 0 })
    })

    it('Pacific/Auckland: 23:30 and 00:30 local fall on different days but the same UTC date', async () => {
      const { api } = await setup('basic', 'Pacific/Auckland')
      // NZDT is UTC+13 in January: 23:30 on the 15th = 10:30 UTC on the 15th, 00:30 on the 16th = 11:30 UTC on the 15th.
      const late = created<Booking>(await api.book('2030-01-15T23:30:00+13:00'))
      const early = created<Booking>(await api.book('2030-01-15T11:30:00Z'))
      expect(late.local_date).toBe('2030-01-15')
      expect(early.local_date).toBe('2030-01-16')
      expect(early.starts_at.slice(0, 10)).toBe(late.starts_at.slice(0, 10))

      const day15 = (await api.entitlements('2030-01-15')).features.bookings_per_day
      expect(day15).toMatchObject({ used: 1, remaining: 4, resets_at: '2030-01-15T11:00:00.000Z' })
      const day16 = (await api.entitlements('2030-01-16')).features.bookings_per_day
      expect(day16).toMatchObject({ used: 1, remaining: 4, resets_at: '2030-01-16T11:00:00.000Z' })
    })

    it('Pacific/Auckland: a full local day refuses a booking that is on another UTC date', async () => {
      const { api } = await setup('basic', 'Pacific/Auckland')
      // 08:00–12:00 NZDT on Jan 20 are 19:00–23:00 UTC on Jan 19.
      for (const hour of ['08', '09', '10', '11', '12'])
        created(await api.book(`2030-01-20T${hour}:00:00+13:00`))
      // 14:00 NZDT on Jan 20 is 01:00 UTC on Jan 20: another UTC date, the same full local day.
      const refused = await api.book('2030-01-20T01:00:00Z')
      expect(problemOf(refused)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(refused.json()).toMatchObject({ limit: 5, used: 5 })
    })

    it('resets_at is the next local midnight in UTC, across daylight saving time', async () => {
      const ny = await setup('basic', 'America/New_York')
      const akl = await setup('basic', 'Pacific/Auckland')
      const resetsAt = async (api: typeof ny.api, date: string) => {
        const feature = (await api.entitlements(date)).features.bookings_per_day
        return feature && 'resets_at' in feature ? feature.resets_at : undefined
      }
      expect(await resetsAt(ny.api, '2030-01-15')).toBe('2030-01-16T05:00:00.000Z') // EST, UTC-5
      expect(await resetsAt(ny.api, '2030-07-15')).toBe('2030-07-16T04:00:00.000Z') // EDT, UTC-4
      expect(await resetsAt(akl.api, '2030-01-15')).toBe('2030-01-15T11:00:00.000Z') // NZDT, UTC+13
      expect(await resetsAt(akl.api, '2030-07-15')).toBe('2030-07-15T12:00:00.000Z') // NZST, UTC+12
    })

    it('defaults to today in the account time zone, which may differ from the UTC date', async () => {
      // 04:30 UTC on Jan 15 is still Jan 14 (23:30) in New York and already Jan 15 (17:30) in Auckland.
      t.clock.set(new Date('2030-01-15T04:30:00Z'))
      const ny = await setup('basic', 'America/New_York')
      const akl = await setup('basic', 'Pacific/Auckland')
      const utc = await setup('basic')

      created(await ny.api.book('2030-01-15T04:45:00Z'))
      const nyToday = (await ny.api.entitlements()).features.bookings_per_day
      expect(nyToday).toMatchObject({ date: '2030-01-14', used: 1, resets_at: '2030-01-15T05:00:00.000Z' })
      const aklToday = (await akl.api.entitlements()).features.bookings_per_day
      expect(aklToday).toMatchObject({ date: '2030-01-15', used: 0, resets_at: '2030-01-15T11:00:00.000Z' })
      const utcToday = (await utc.api.entitlements()).features.bookings_per_day
      expect(utcToday).toMatchObject({ date: '2030-01-15', used: 0, resets_at: '2030-01-16T00:00:00.000Z' })
    })
  })

  describe('freeing units', () => {
    it('cancelling a booking frees its day’s unit; cancelling it again is 409', async () => {
      const { api } = await setup('basic')
      const day = '2030-04-02'
      const booked: Booking[] = []
      for (let hour = 10; hour < 15; hour++) booked.push(created(await api.book(`${day}T${hour}:00:00Z`)))
      expect(problemOf(await api.book(`${day}T16:00:00Z`))).toMatchObject({ code: 'limit_exceeded' })

      const first = booked[0]
      if (!first) throw new Error('no booking')
      const cancel = await api.cancelBooking(first.id)
      expect(cancel.statusCode, cancel.body).toBe(200)
      expect(cancel.json()).toMatchObject({
        id: first.id,
        status: 'canceled',
        canceled_at: expect.any(String),
      })
      expect((await api.entitlements(day)).features.bookings_per_day).toMatchObject({ used: 4, remaining: 1 })

      const again = await api.cancelBooking(first.id)
      expect(problemOf(again)).toMatchObject({ status: 409, code: 'conflict' })
      // The second cancel frees nothing more.
      expect((await api.entitlements(day)).features.bookings_per_day).toMatchObject({ used: 4 })

      created(await api.book(`${day}T16:00:00Z`))
      expect(problemOf(await api.book(`${day}T17:00:00Z`))).toMatchObject({ code: 'limit_exceeded' })

      const unknown = await api.cancelBooking('00000000-0000-7000-8000-000000000000')
      expect(problemOf(unknown)).toMatchObject({ status: 404, code: 'not_found' })
    })

    it('cancelling frees the unit of the booking’s local day, not of its UTC date', async () => {
      const { api } = await setup('basic', 'America/New_York')
      // 23:30 EST on Mar 1 is 04:30 UTC on Mar 2.
      const late = created<Booking>(await api.book('2030-03-01T23:30:00-05:00'))
      created(await api.book('2030-03-02T10:00:00-05:00'))
      expect(late.local_date).toBe('2030-03-01')
      expect((await api.cancelBooking(late.id)).statusCode).toBe(200)
      expect((await api.entitlements('2030-03-01')).features.bookings_per_day).toMatchObject({ used: 0 })
      expect((await api.entitlements('2030-03-02')).features.bookings_per_day).toMatchObject({ used: 1 })
    })

    it('deleting a staff member frees its unit; deleting it again is 404', async () => {
      const { api } = await setup('basic')
      const ann = created<Staff>(await api.addStaff('Ann'))
      created(await api.addStaff('Bea'))
      expect(problemOf(await api.addStaff('Cid'))).toMatchObject({ status: 403, code: 'limit_exceeded' })

      const deleted = await api.deleteStaff(ann.id)
      expect(deleted.statusCode).toBe(204)
      expect((await api.entitlements()).features.staff).toMatchObject({ used: 1, remaining: 1 })
      expect((await api.listStaff()).data.map((s) => s.id)).not.toContain(ann.id)

      const twice = await api.deleteStaff(ann.id)
      expect(problemOf(twice)).toMatchObject({ status: 404, code: 'not_found' })
      expect((await api.entitlements()).features.staff).toMatchObject({ used: 1 })

      created(await api.addStaff('Cid'))
      expect(problemOf(await api.addStaff('Dee'))).toMatchObject({ status: 403, code: 'limit_exceeded' })
    })

    it('lets only owners and admins add or delete staff; members get 403 and use no unit', async () => {
      const { owner, account, api } = await setup('basic')
      const member = await registerAndLogin(t.app)
      await addMember(t, owner.token, account.id, member)
      const asMember = client(member, account.id)
      expect(problemOf(await asMember.addStaff('Ann'))).toMatchObject({ status: 403, code: 'forbidden' })
      const ann = created<Staff>(await api.addStaff('Ann'))
      expect(problemOf(await asMember.deleteStaff(ann.id))).toMatchObject({ status: 403, code: 'forbidden' })
      expect((await api.entitlements()).features.staff).toMatchObject({ used: 1 })
      // Members may book.
      created(await asMember.book('2030-05-05T10:00:00Z'))
    })
  })

  describe('downgrade', () => {
    it('pro → basic with 4 staff deletes nothing, reports over_limit and refuses new staff until back under', async () => {
      const { api, owner, account } = await setup('pro')
      const team: { id: string }[] = []
      for (const name of ['Ann', 'Bea', 'Cid', 'Dee']) team.push(created(await api.addStaff(name)))

      const change = await t.app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${account.id}/subscription`,
        headers: bearer(owner.token),
        payload: { plan: 'basic', when: 'now' },
      })
      expect(change.statusCode, change.body).toBe(200)
      expect(change.json()).toMatchObject({ plan: 'basic' })

      expect((await api.listStaff()).data).toHaveLength(4)
      expect((await api.entitlements()).features.staff).toEqual({
        kind: 'count',
        limit: 2,
        used: 4,
        remaining: 0,
        over_limit: true,
      })
      const refused = await api.addStaff('Eve')
      expect(problemOf(refused)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(refused.json()).toMatchObject({ feature: 'staff', limit: 2, used: 4 })

      for (const member of team.slice(0, 3)) expect((await api.deleteStaff(member.id)).statusCode).toBe(204)
      expect((await api.entitlements()).features.staff).toMatchObject({ used: 1, over_limit: false })
      created(await api.addStaff('Eve'))
      expect(problemOf(await api.addStaff('Fay'))).toMatchObject({ code: 'limit_exceeded' })
    })
  })

  describe('without a subscription', () => {
    it('reports no access and refuses every creation with 403 subscription_required', async () => {
      const { api } = await setup(null)
      const ent = await api.entitlements('2030-01-01')
      expect(ent).toMatchObject({ plan: null, status: null, has_access: false })
      expect(ent.features.staff).toMatchObject({ kind: 'count', remaining: 0 })
      expect(ent.features.bookings_per_day).toMatchObject({ kind: 'per_day', remaining: 0 })

      expect(problemOf(await api.addStaff('Ann'))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
      expect(problemOf(await api.book('2030-01-01T10:00:00Z'))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
      // A metered feature (some plan names it); resource-backed ones are refused before access is asked.
      const admin = await loginAdmin(t.app)
      const plan = await t.app.inject({
        method: 'POST',
        url: '/v1/plans',
        headers: bearer(admin),
        payload: { code: uniqueCode('no-sub'), name: 'Credits', price_cents: 0, limits: { credits: 5 } },
      })
      expect(plan.statusCode, plan.body).toBe(201)
      expect(problemOf(await api.usage({ feature: 'credits', quantity: 1 }))).toMatchObject({
        status: 403,
        code: 'subscription_required',
      })
    })
  })

  describe('generic usage API', () => {
    const customPlan = async () => {
      const admin = await loginAdmin(t.app)
      const code = uniqueCode('metered')
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/plans',
        headers: bearer(admin),
        payload: {
          code,
          name: 'Metered',
          price_cents: 2900,
          limits: { staff: 2, bookings_per_day: 5, api_calls_per_month: 10, seats: 2, exports: null },
        },
      })
      expect(res.statusCode, res.body).toBe(201)
      return code
    }

    it('consumes and releases a per_month feature, never above its limit nor below zero', async () => {
      const { api } = await setup(await customPlan())
      const month = t.clock.now().toISOString().slice(0, 7)

      const four = await api.usage({ feature: 'api_calls_per_month', quantity: 4 })
      expect(four.statusCode, four.body).toBe(200)
      expect(four.json()).toEqual({
        feature: 'api_calls_per_month',
        kind: 'per_month',
        period: month,
        limit: 10,
        used: 4,
        remaining: 6,
      })

      const tooMany = await api.usage({ feature: 'api_calls_per_month', quantity: 7 })
      expect(problemOf(tooMany)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(tooMany.json()).toMatchObject({ feature: 'api_calls_per_month', limit: 10, used: 4 })

      expect((await api.usage({ feature: 'api_calls_per_month', quantity: 6 })).json()).toMatchObject({
        used: 10,
        remaining: 0,
      })
      expect(problemOf(await api.usage({ feature: 'api_calls_per_month', quantity: 1 }))).toMatchObject({
        code: 'limit_exceeded',
      })

      const released = await api.usage({ feature: 'api_calls_per_month', quantity: -3 })
      expect(released.statusCode, released.body).toBe(200)
      expect(released.json()).toMatchObject({ used: 7, remaining: 3 })
      const floor = await api.usage({ feature: 'api_calls_per_month', quantity: -100 })
      expect(floor.json()).toMatchObject({ used: 0, remaining: 10 })

      const ent = await api.entitlements()
      const nextMonth = new Date(`${month}-01T00:00:00Z`)
      nextMonth.setUTCMonth(nextMonth.getUTCMonth() + 1)
      expect(ent.features.api_calls_per_month).toEqual({
        kind: 'per_month',
        month,
        limit: 10,
        used: 0,
        remaining: 10,
        resets_at: nextMonth.toISOString(),
        over_limit: false,
      })
    })

    it('meters a count feature, and releasing one that was never used stays at zero', async () => {
      const { api } = await setup(await customPlan())
      const none = await api.usage({ feature: 'seats', quantity: -1 })
      expect(none.statusCode, none.body).toBe(200)
      expect(none.json()).toEqual({
        feature: 'seats',
        kind: 'count',
        period: '',
        limit: 2,
        used: 0,
        remaining: 2,
      })

      expect((await api.usage({ feature: 'seats', quantity: 2 })).json()).toMatchObject({
        used: 2,
        remaining: 0,
      })
      const third = await api.usage({ feature: 'seats', quantity: 1 })
      expect(problemOf(third)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(third.json()).toMatchObject({ feature: 'seats', limit: 2, used: 2 })
      expect((await api.usage({ feature: 'seats', quantity: -1 })).json()).toMatchObject({ used: 1 })
      expect((await api.usage({ feature: 'seats', quantity: 1 })).json()).toMatchObject({ used: 2 })
      expect((await api.entitlements()).features.seats).toEqual({
        kind: 'count',
        limit: 2,
        used: 2,
        remaining: 0,
        over_limit: false,
      })
    })

    it('allows any quantity of an unlimited (null) feature and reports remaining: null', async () => {
      const { api } = await setup(await customPlan())
      const big = await api.usage({ feature: 'exports', quantity: 1_000_000 })
      expect(big.statusCode, big.body).toBe(200)
      expect(big.json()).toMatchObject({ limit: null, used: 1_000_000, remaining: null })
      expect((await api.usage({ feature: 'exports', quantity: 5 })).json()).toMatchObject({ used: 1_000_005 })
      expect((await api.entitlements()).features.exports).toEqual({
        kind: 'count',
        limit: null,
        used: 1_000_005,
        remaining: null,
        over_limit: false,
      })
    })

    it('treats a known feature the plan does not name as limit 0 (403 limit_exceeded), an unknown one as 404', async () => {
      await customPlan()
      const { api } = await setup('basic')
      const res = await api.usage({ feature: 'api_calls_per_month', quantity: 1 })
      expect(problemOf(res)).toMatchObject({ status: 403, code: 'limit_exceeded' })
      expect(res.json()).toMatchObject({ feature: 'api_calls_per_month', limit: 0, used: 0 })
      expect((await api.entitlements()).features.api_calls_per_month).toBeUndefined()
      const unknown = await api.usage({ feature: 'video_minutes_per_month', quantity: 1 })
      expect(problemOf(unknown)).toMatchObject({ status: 404, code: 'unknown_feature' })
    })

    it('counts a consume retried with the same Idempotency-Key once', async () => {
      const { api } = await setup(await customPlan())
      const key = uniqueCode('usage-key')
      const first = await api.usage({ feature: 'seats', quantity: 1 }, key)
      const retry = await api.usage({ feature: 'seats', quantity: 1 }, key)
      expect(first.statusCode).toBe(200)
      expect(retry.statusCode).toBe(200)
      expect(retry.json()).toEqual(first.json())
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect((await api.entitlements()).features.seats).toMatchObject({ used: 1 })
      const reused = await api.usage({ feature: 'seats', quantity: 2 }, key)
      expect(problemOf(reused)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await api.entitlements()).features.seats).toMatchObject({ used: 1 })
    })

    it('refuses malformed usage (zero, fractions, bad keys) with 400 and a foreign account with 404', async () => {
      const { api, account } = await setup(await customPlan())
      for (const payload of [
        { feature: 'seats', quantity: 0 },
        { feature: 'seats', quantity: 1.5 },
        { feature: 'Seats', quantity: 1 },
        { feature: 'seats' },
      ]) {
        expect(problemOf(await api.usage(payload)), JSON.stringify(payload)).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
      const stranger = await registerAndLogin(t.app)
      const foreign = await client(stranger, account.id).usage({ feature: 'seats', quantity: 1 })
      expect(problemOf(foreign)).toMatchObject({ status: 404, code: 'not_found' })
      const release = await client(stranger, account.id).usage({ feature: 'seats', quantity: -1 })
      expect(problemOf(release)).toMatchObject({ status: 404, code: 'not_found' })
      expect((await api.entitlements()).features.seats).toMatchObject({ used: 0 })
    })
  })

  describe('bookings', () => {
    it('refuses a booking naming a staff member of another account (400) without using a unit', async () => {
      const mine = await setup('basic')
      const theirs = await setup('basic')
      const stranger = created<Staff>(await theirs.api.addStaff('Not mine'))
      const own = created<Staff>(await mine.api.addStaff('Mine'))

      const res = await mine.api.book('2030-06-06T10:00:00Z', { staff_id: stranger.id })
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect((await mine.api.entitlements('2030-06-06')).features.bookings_per_day).toMatchObject({ used: 0 })

      const ok = created<Booking>(await mine.api.book('2030-06-06T10:00:00Z', { staff_id: own.id }))
      expect(ok.staff_id).toBe(own.id)

      expect((await mine.api.deleteStaff(own.id)).statusCode).toBe(204)
      const deleted = await mine.api.book('2030-06-06T11:00:00Z', { staff_id: own.id })
      expect(problemOf(deleted)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect((await mine.api.entitlements('2030-06-06')).features.bookings_per_day).toMatchObject({ used: 1 })
    })

    it('lists bookings of one local day, page by page, in start order, without duplicates or gaps', async () => {
      const { api } = await setup('pro', 'America/New_York')
      const day = '2030-02-12'
      const expected = new Set<string>()
      // 12 bookings on the day, some sharing a start time (the cursor must break ties), one at
      // 23:30 local (the next UTC date), plus bookings on the days around it.
      const times = [
        '08:00',
        '09:00',
        '09:00',
        '09:00',
        '10:00',
        '11:00',
        '12:00',
        '12:00',
        '13:00',
        '15:00',
        '18:00',
        '23:30',
      ]
      for (const time of times) expected.add(created<Booking>(await api.book(`${day}T${time}:00-05:00`)).id)
      created(await api.book('2030-02-11T23:00:00-05:00'))
      created(await api.book('2030-02-13T00:30:00-05:00'))
      created(await api.book('2030-02-13T09:00:00-05:00'))

      const seen: Booking[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = `?date=${day}&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
        const res = await api.listBookings(query)
        expect(res.statusCode, res.body).toBe(200)
        const body = res.json() as BookingPage
        expect(body.data.length).toBeLessThanOrEqual(5)
        seen.push(...body.data)
        cursor = body.next_cursor
        pages++
      } while (cursor && pages < 10)

      expect(pages).toBe(3)
      const ids = seen.map((booking) => booking.id)
      expect(ids).toHaveLength(12)
      expect(new Set(ids)).toEqual(expected)
      expect(seen.every((booking) => booking.local_date === day)).toBe(true)
      const starts = seen.map((booking) => booking.starts_at)
      expect(starts).toEqual([...starts].sort())

      const all = await api.listBookings('?limit=100')
      expect((all.json() as BookingPage).data).toHaveLength(15)
    })

    it('filters bookings by status', async () => {
      const { api } = await setup('basic')
      const keep = created<Booking>(await api.book('2030-08-01T10:00:00Z'))
      const drop = created<Booking>(await api.book('2030-08-01T11:00:00Z'))
      await api.cancelBooking(drop.id)
      const canceled = (await api.listBookings('?status=canceled')).json() as BookingPage
      expect(canceled.data.map((b) => b.id)).toEqual([drop.id])
      const confirmed = (await api.listBookings('?status=confirmed&date=2030-08-01')).json() as BookingPage
      expect(confirmed.data.map((b) => b.id)).toEqual([keep.id])
    })

    it('rejects a malformed cursor or date on the bookings list with 400', async () => {
      const { api } = await setup('basic')
      for (const query of ['?cursor=garbage', '?date=2030-13-01', '?limit=0']) {
        expect(problemOf(await api.listBookings(query)), query).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
    })
  })
})
