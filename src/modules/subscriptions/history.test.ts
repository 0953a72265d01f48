// GET /v1/accounts/{id}/subscription/history: every recorded transition of the account's
// subscriptions, newest first and paginated, as `recordTransition` wrote it.
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
} from '../../../test/helpers/app.ts'
import { expectData, testClient } from '../../../test/helpers/client.ts'

describe('subscription history', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  const historyOf = (token: string, accountId: string, query: { limit?: number; cursor?: string } = {}) =>
    expectData(
      testClient(t.app, token).GET('/v1/accounts/{accountId}/subscription/history', {
        params: { path: { accountId }, query },
      }),
      200,
    )

  /** An owner's account that subscribed to basic, upgraded to pro, then scheduled its cancellation. */
  const withChanges = async () => {
    const { owner, account } = await subscribedAccount(t.app, 'basic')
    const headers = bearer(owner.token)
    const url = `/v1/accounts/${account.id}/subscription`
    const upgraded = await t.app.inject({ method: 'PATCH', url, headers, payload: { plan: 'pro' } })
    expect(upgraded.statusCode, upgraded.body).toBe(200)
    const canceled = await t.app.inject({ method: 'POST', url: `${url}/cancel`, headers, payload: {} })
    expect(canceled.statusCode, canceled.body).toBe(200)
    return { owner, account, subscriptionId: String(upgraded.json().id) }
  }

  it('lists the changes newest first, with statuses, plans by code, the actor and readable data', async () => {
    const { owner, account, subscriptionId } = await withChanges()
    const me = await expectData(testClient(t.app, owner.token).GET('/v1/me'), 200)
    const page = await historyOf(owner.token, account.id)
    expect(page.next_cursor).toBeNull()
    expect(page.data.map((event) => event.type)).toEqual(['cancel_scheduled', 'upgraded', 'created'])
    const [scheduled, upgraded, created] = page.data
    expect(created).toMatchObject({
      subscription_id: subscriptionId,
      from_status: null,
      to_status: 'active',
      from_plan: null,
      plan: 'basic',
      actor_user_id: me.id,
    })
    expect(upgraded).toMatchObject({
      from_status: 'active',
      to_status: 'active',
      from_plan: 'basic',
      plan: 'pro',
      price: { amount_cents: 4900, currency: 'usd', interval: 'month' },
      data: { changed: ['plan', 'price'], amount_cents: expect.any(Number) },
    })
    // The fields that changed are named as the API names them, not as the table's columns.
    expect(scheduled?.data).toEqual({ changed: ['status', 'cancel_at_period_end', 'canceled_at'] })
    expect(scheduled).toMatchObject({
      from_status: 'active',
      to_status: 'canceled',
      from_plan: 'pro',
      plan: 'pro',
    })
    for (const event of page.data) expect(Date.parse(event.created_at)).not.toBeNaN()
  })

  it('pages through the history with the cursor, each change once', async () => {
    const { owner, account } = await withChanges()
    const all = await historyOf(owner.token, account.id)
    const seen: string[] = []
    let cursor: string | undefined
    for (let pageNumber = 0; pageNumber < 5; pageNumber++) {
      const page = await historyOf(owner.token, account.id, { limit: 1, ...(cursor && { cursor }) })
      seen.push(...page.data.map((event) => event.id))
      if (page.next_cursor === null) break
      cursor = page.next_cursor
    }
    expect(seen).toEqual(all.data.map((event) => event.id))
    const bad = await t.app.inject({
      method: 'GET',
      url: `/v1/accounts/${account.id}/subscription/history?cursor=not-a-cursor`,
      headers: bearer(owner.token),
    })
    expect(problemOf(bad)).toMatchObject({ status: 400, code: 'validation_failed' })
  })

  it("shows members and site admins the account's history only, and an empty page before any subscription", async () => {
    const { owner, account } = await withChanges()
    const other = await subscribedAccount(t.app, 'basic')
    const member = await registerAndLogin(t.app)
    await addMember(t, owner.token, account.id, member)
    const ids = (await historyOf(owner.token, account.id)).data.map((event) => event.id)
    expect((await historyOf(member.token, account.id)).data.map((event) => event.id)).toEqual(ids)
    expect((await historyOf(await loginAdmin(t.app), account.id)).data.map((event) => event.id)).toEqual(ids)
    const otherIds = (await historyOf(other.owner.token, other.account.id)).data.map((event) => event.id)
    expect(otherIds).toHaveLength(1)
    expect(ids).not.toContain(otherIds[0])
    const fresh = await createAccount(t.app, owner.token)
    expect(await historyOf(owner.token, fresh.id)).toEqual({ data: [], next_cursor: null })
  })
})
