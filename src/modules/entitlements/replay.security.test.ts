// An Idempotency-Key retry on a hot path (staff, bookings, usage) is answered from the stored
// response only while the caller still stands in the account as a fresh request would need: the
// hot statements check the credential themselves, so without the replay check a revoked key, an
// ended session or a removed member got the stored 201 back. A booking cancel takes no
// Idempotency-Key (it creates nothing), so its repeat is a fresh request checked by its own
// statement; it is covered here with the others.
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  loginAdmin,
  problemOf,
  registerAndLogin,
  subscribedAccount,
  type TestApp,
  type TestUser,
  uniqueCode,
} from '../../../test/helpers/app.ts'

type Send = (credential: string, accountId: string, idempotencyKey: string) => Promise<LightMyRequestResponse>

describe('Idempotency-Key replays on the hot paths', () => {
  let t: TestApp
  let plan: string
  beforeAll(async () => {
    t = await buildTestApp()
    const admin = await loginAdmin(t.app)
    plan = uniqueCode('replay')
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/plans',
      headers: bearer(admin),
      payload: {
        code: plan,
        name: 'Replay',
        price_cents: 900,
        limits: { staff: 20, bookings_per_day: 20, replay_units: 100 },
      },
    })
    expect(res.statusCode, res.body).toBe(201)
  })
  afterAll(async () => {
    await t?.close()
  })

  const post = (url: string, credential: string, payload: object, idempotencyKey?: string) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...bearer(credential), ...(idempotencyKey && { 'idempotency-key': idempotencyKey }) },
      payload,
    })

  /** An owner's account on the replay plan. */
  const account = async () => {
    const { owner, account } = await subscribedAccount(t.app, plan)
    return { owner, accountId: account.id }
  }

  /** A second person, admin of the account (staff needs admin). */
  const adminOf = async (owner: TestUser, accountId: string) => {
    const admin = await registerAndLogin(t.app)
    await addMember(t, owner.token, accountId, admin, 'admin')
    return admin
  }

  /** An account key with the scopes of every hot write. */
  const accountKey = async (owner: TestUser, accountId: string) => {
    const res = await post(`/v1/accounts/${accountId}/api-keys`, owner.token, {
      name: 'backend',
      scopes: ['resources:write', 'usage:write'],
    })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as { id: string; key: string }
  }

  let day = 0
  /** A distinct start time, so bookings never collide on a day's limit. */
  const startsAt = () => new Date(Date.UTC(2031, 0, 1 + (day++ % 300), 10)).toISOString()

  /** Each hot write, sent with an Idempotency-Key; the expected status of its first answer. */
  const writes: { name: string; status: number; send: () => Send }[] = [
    {
      name: 'staff',
      status: 201,
      send: () => {
        const name = uniqueCode('staff')
        return (credential, accountId, key) =>
          post(`/v1/accounts/${accountId}/staff`, credential, { name }, key)
      },
    },
    {
      name: 'bookings',
      status: 201,
      send: () => {
        const body = { customer_name: 'Lou', starts_at: startsAt() }
        return (credential, accountId, key) =>
          post(`/v1/accounts/${accountId}/bookings`, credential, body, key)
      },
    },
    {
      name: 'usage',
      status: 200,
      send: () => (credential, accountId, key) =>
        post(`/v1/accounts/${accountId}/usage`, credential, { feature: 'replay_units', quantity: 1 }, key),
    },
  ]

  for (const write of writes) {
    describe(write.name, () => {
      it('still replays a retry with the same key and body', async () => {
        const { owner, accountId } = await account()
        const send = write.send()
        const key = uniqueCode('idem')
        const first = await send(owner.token, accountId, key)
        expect(first.statusCode, first.body).toBe(write.status)
        const again = await send(owner.token, accountId, key)
        expect(again.statusCode, again.body).toBe(write.status)
        expect(again.headers['idempotent-replayed']).toBe('true')
        expect(again.json()).toEqual(first.json())
      })

      it('refuses a replay with a revoked key (401), also with a different body', async () => {
        const { owner, accountId } = await account()
        const apiKey = await accountKey(owner, accountId)
        const send = write.send()
        const key = uniqueCode('idem')
        expect((await send(apiKey.key, accountId, key)).statusCode).toBe(write.status)
        const revoked = await t.app.inject({
          method: 'DELETE',
          url: `/v1/accounts/${accountId}/api-keys/${apiKey.id}`,
          headers: bearer(owner.token),
        })
        expect(revoked.statusCode, revoked.body).toBe(200)
        const replay = await send(apiKey.key, accountId, key)
        expect(problemOf(replay)).toMatchObject({ status: 401, code: 'unauthorized' })
        expect(replay.headers['idempotent-replayed']).toBeUndefined()
        // A different body under the same key was a 409 before the credential was looked at.
        const otherBody = await write.send()(apiKey.key, accountId, key)
        expect(problemOf(otherBody)).toMatchObject({ status: 401, code: 'unauthorized' })
      })

      it("refuses a key's replay to another account with 404, as a fresh request", async () => {
        const { owner, accountId } = await account()
        const other = await account()
        const apiKey = await accountKey(owner, accountId)
        const send = write.send()
        const key = uniqueCode('idem')
        expect((await send(apiKey.key, accountId, key)).statusCode).toBe(write.status)
        const elsewhere = await send(apiKey.key, other.accountId, key)
        expect(problemOf(elsewhere)).toMatchObject({ status: 404, code: 'not_found' })
      })

      it('refuses a replay after logout (401)', async () => {
        const { owner, accountId } = await account()
        const admin = await adminOf(owner, accountId)
        const send = write.send()
        const key = uniqueCode('idem')
        expect((await send(admin.token, accountId, key)).statusCode).toBe(write.status)
        const logout = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/logout',
          payload: { refresh_token: admin.refreshToken },
        })
        expect(logout.statusCode).toBe(204)
        const replay = await send(admin.token, accountId, key)
        expect(problemOf(replay)).toMatchObject({ status: 401, code: 'unauthorized' })
        expect(replay.headers['idempotent-replayed']).toBeUndefined()
      })

      it('refuses a replay by a member removed from the account (404)', async () => {
        const { owner, accountId } = await account()
        const admin = await adminOf(owner, accountId)
        const send = write.send()
        const key = uniqueCode('idem')
        expect((await send(admin.token, accountId, key)).statusCode).toBe(write.status)
        const removed = await t.app.inject({
          method: 'DELETE',
          url: `/v1/accounts/${accountId}/members/${admin.id}`,
          headers: bearer(owner.token),
        })
        expect(removed.statusCode, removed.body).toBe(204)
        const replay = await send(admin.token, accountId, key)
        expect(problemOf(replay)).toMatchObject({ status: 404, code: 'not_found' })
        expect(replay.headers['idempotent-replayed']).toBeUndefined()
      })
    })
  }

  it('refuses a staff replay by an admin made a plain member (403), as a fresh request', async () => {
    const { owner, accountId } = await account()
    const admin = await adminOf(owner, accountId)
    const send = writes[0]?.send()
    if (!send) throw new Error('no staff write')
    const key = uniqueCode('idem')
    expect((await send(admin.token, accountId, key)).statusCode).toBe(201)
    const demoted = await t.app.inject({
      method: 'PATCH',
      url: `/v1/accounts/${accountId}/members/${admin.id}`,
      headers: bearer(owner.token),
      payload: { role: 'member' },
    })
    expect(demoted.statusCode, demoted.body).toBe(200)
    expect(problemOf(await send(admin.token, accountId, key))).toMatchObject({
      status: 403,
      code: 'forbidden',
    })
  })

  describe('booking cancel', () => {
    /** A booking of the account made by its owner, and its cancel URL. */
    const booking = async (owner: TestUser, accountId: string) => {
      const res = await post(`/v1/accounts/${accountId}/bookings`, owner.token, {
        customer_name: 'Lou',
        starts_at: startsAt(),
      })
      expect(res.statusCode, res.body).toBe(201)
      return `/v1/accounts/${accountId}/bookings/${res.json().id}/cancel`
    }

    it('refuses a repeated cancel after revoke, logout or removal as a fresh one (401, 401, 404)', async () => {
      const { owner, accountId } = await account()
      const admin = await adminOf(owner, accountId)
      const apiKey = await accountKey(owner, accountId)
      const byKey = await booking(owner, accountId)
      const bySession = await booking(owner, accountId)
      const byRemoved = await booking(owner, accountId)
      const key = uniqueCode('idem')

      for (const [url, credential] of [
        [byKey, apiKey.key],
        [bySession, admin.token],
      ] as const) {
        const first = await post(url, credential, {}, key)
        expect(first.statusCode, first.body).toBe(200)
        // A cancel is not stored under the key: a repeat is a fresh request (the booking is canceled).
        const again = await post(url, credential, {}, key)
        expect(problemOf(again)).toMatchObject({ status: 409, code: 'conflict' })
      }

      await t.app.inject({
        method: 'DELETE',
        url: `/v1/accounts/${accountId}/api-keys/${apiKey.id}`,
        headers: bearer(owner.token),
      })
      expect(problemOf(await post(byKey, apiKey.key, {}, key))).toMatchObject({ status: 401 })

      const logout = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        payload: { refresh_token: admin.refreshToken },
      })
      expect(logout.statusCode).toBe(204)
      expect(problemOf(await post(bySession, admin.token, {}, key))).toMatchObject({ status: 401 })

      const member = await adminOf(owner, accountId)
      expect((await post(byRemoved, member.token, {}, key)).statusCode).toBe(200)
      const removed = await t.app.inject({
        method: 'DELETE',
        url: `/v1/accounts/${accountId}/members/${member.id}`,
        headers: bearer(owner.token),
      })
      expect(removed.statusCode, removed.body).toBe(204)
      expect(problemOf(await post(byRemoved, member.token, {}, key))).toMatchObject({ status: 404 })
    })
  })
})
