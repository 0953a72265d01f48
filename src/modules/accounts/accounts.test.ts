import { and, eq, like } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  loginAdmin,
  problemOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
} from '../../../test/helpers/app.ts'
import { type components, expectData, type paths, testClient } from '../../../test/helpers/client.ts'
import { auditLog } from '../audit/tables.ts'
import { accounts } from './tables.ts'

type Member = components['schemas']['Member']
type AccountPage = paths['/v1/accounts']['get']['responses'][200]['content']['application/json']
type MemberPage =
  paths['/v1/accounts/{accountId}/members']['get']['responses'][200]['content']['application/json']

describe('accounts', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  const removeMember = (token: string, accountId: string, userId: string) =>
    t.app.inject({
      method: 'DELETE',
      url: `/v1/accounts/${accountId}/members/${userId}`,
      headers: bearer(token),
    })

  const listMembers = async (token: string, accountId: string): Promise<Member[]> => {
    const params = { path: { accountId }, query: { limit: 100 } }
    return (
      await expectData(testClient(t.app, token).GET('/v1/accounts/{accountId}/members', { params }), 200)
    ).data
  }

  describe('create, list, get, update', () => {
    it('creates an account whose creator is its owner, in UTC unless a time zone is given', async () => {
      const owner = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers: bearer(owner.token),
        payload: { name: '  Chic-Chic  ' },
      })
      expect(res.statusCode, res.body).toBe(201)
      expect(res.json()).toEqual({
        id: expect.any(String),
        name: 'Chic-Chic',
        timezone: 'UTC',
        external_id: null,
        role: 'owner',
        created_at: expect.any(String),
        updated_at: expect.any(String),
      })
      const members = await listMembers(owner.token, res.json().id)
      expect(members).toEqual([expect.objectContaining({ user_id: owner.id, role: 'owner' })])

      const paris = await createAccount(t.app, owner.token, { name: 'Paris', timezone: 'Europe/Paris' })
      expect(paris.timezone).toBe('Europe/Paris')
    })

    it('refuses an unknown time zone, an empty name and a missing token', async () => {
      const owner = await registerAndLogin(t.app)
      for (const payload of [{ name: 'X', timezone: 'Mars/Olympus' }, { name: '   ' }, {}]) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/accounts',
          headers: bearer(owner.token),
          payload,
        })
        expect(problemOf(res), JSON.stringify(payload)).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
      const anonymous = await t.app.inject({ method: 'POST', url: '/v1/accounts', payload: { name: 'X' } })
      expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })
    })

    it('lists only the accounts the caller is a member of, page by page without duplicates or gaps', async () => {
      const me = await registerAndLogin(t.app)
      const other = await registerAndLogin(t.app)
      const mine = new Set<string>()
      for (let i = 0; i < 5; i++) mine.add((await createAccount(t.app, me.token, { name: `Mine ${i}` })).id)
      const theirs = await createAccount(t.app, other.token, { name: 'Theirs' })

      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/accounts${query}`,
          headers: bearer(me.token),
        })
        expect(res.statusCode, res.body).toBe(200)
        const body = res.json() as AccountPage
        expect(body.data.length).toBeLessThanOrEqual(2)
        for (const account of body.data) {
          expect(account.role).toBe('owner')
          seen.push(account.id)
        }
        cursor = body.next_cursor
        pages++
      } while (cursor && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toHaveLength(5)
      expect(new Set(seen)).toEqual(mine)
      expect(seen).not.toContain(theirs.id)
    })

    it('lists an account a user was added to, with that user’s role', async () => {
      const owner = await registerAndLogin(t.app)
      const member = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token)
      await addMember(t, owner.token, account.id, member)
      const res = await t.app.inject({ method: 'GET', url: '/v1/accounts', headers: bearer(member.token) })
      expect(res.json().data).toEqual([expect.objectContaining({ id: account.id, role: 'member' })])
    })

    it('rejects a malformed cursor with 400', async () => {
      const me = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/accounts?cursor=not-a-cursor',
        headers: bearer(me.token),
      })
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
    })

    it('shows an account to its members and hides it (404) from everyone else; site admins may read it', async () => {
      const owner = await registerAndLogin(t.app)
      const stranger = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token, { name: 'Hidden', timezone: 'Asia/Tokyo' })

      const mine = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(owner.token),
      })
      expect(mine.statusCode).toBe(200)
      expect(mine.json()).toMatchObject({
        id: account.id,
        name: 'Hidden',
        timezone: 'Asia/Tokyo',
        role: 'owner',
      })

      const foreign = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(stranger.token),
      })
      expect(problemOf(foreign)).toMatchObject({ status: 404, code: 'not_found' })

      const missing = await t.app.inject({
        method: 'GET',
        url: '/v1/accounts/00000000-0000-7000-8000-000000000000',
        headers: bearer(owner.token),
      })
      expect(problemOf(missing)).toMatchObject({ status: 404, code: 'not_found' })

      const admin = await loginAdmin(t.app)
      const asAdmin = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(admin),
      })
      expect(asAdmin.statusCode).toBe(200)
      expect(asAdmin.json()).toMatchObject({ id: account.id, role: null })
    })

    it('lets owners and admins rename an account and change its time zone, partially', async () => {
      const owner = await registerAndLogin(t.app)
      const admin = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token, { name: 'Before' })
      await addMember(t, owner.token, account.id, admin, 'admin')

      const renamed = await t.app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(owner.token),
        payload: { name: 'After' },
      })
      expect(renamed.statusCode, renamed.body).toBe(200)
      expect(renamed.json()).toMatchObject({ name: 'After', timezone: 'UTC', role: 'owner' })

      const moved = await t.app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(admin.token),
        payload: { timezone: 'America/New_York' },
      })
      expect(moved.statusCode, moved.body).toBe(200)
      expect(moved.json()).toMatchObject({ name: 'After', timezone: 'America/New_York', role: 'admin' })

      const read = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(owner.token),
      })
      expect(read.json()).toMatchObject({ name: 'After', timezone: 'America/New_York' })
    })

    it('refuses an update from a plain member (403), an unknown field and a bad time zone (400)', async () => {
      const owner = await registerAndLogin(t.app)
      const member = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token, { name: 'Keep' })
      await addMember(t, owner.token, account.id, member)

      const byMember = await t.app.inject({
        method: 'PATCH',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(member.token),
        payload: { name: 'Taken over' },
      })
      expect(problemOf(byMember)).toMatchObject({ status: 403, code: 'forbidden' })

      for (const payload of [{ owner: 'me' }, { timezone: 'Nowhere/Land' }]) {
        const res = await t.app.inject({
          method: 'PATCH',
          url: `/v1/accounts/${account.id}`,
          headers: bearer(owner.token),
          payload,
        })
        expect(problemOf(res), JSON.stringify(payload)).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
      const read = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${account.id}`,
        headers: bearer(owner.token),
      })
      expect(read.json()).toMatchObject({ name: 'Keep', timezone: 'UTC' })
    })
  })

  describe('external_id', () => {
    let sequence = 0
    /** A fresh external id per call, so tests never collide on the unique index. */
    const newExternalId = (prefix = 'tenant') => `${prefix}-${Date.now().toString(36)}-${sequence++}`
    /** The integrating product's site key: the one credential that sets external ids. */
    let siteKey: string

    beforeAll(async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/api-keys',
        headers: bearer(await loginAdmin(t.app)),
        payload: { name: 'product backend', scopes: ['accounts:read', 'accounts:write'] },
      })
      expect(res.statusCode, res.body).toBe(201)
      siteKey = res.json().key
    })

    const create = (token: string, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'POST', url: '/v1/accounts', headers: bearer(token), payload })
    const patch = (token: string, accountId: string, payload: Record<string, unknown>) =>
      t.app.inject({ method: 'PATCH', url: `/v1/accounts/${accountId}`, headers: bearer(token), payload })
    const lookup = (token: string, externalId: string) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/accounts?external_id=${encodeURIComponent(externalId)}`,
        headers: bearer(token),
      })
    /** An account of `owner` that the site key then gives `externalId`. */
    const ownedWithExternalId = async (owner: TestUser, name: string, externalId: string) => {
      const account = await createAccount(t.app, owner.token, { name })
      const set = await patch(siteKey, account.id, { external_id: externalId })
      expect(set.statusCode, set.body).toBe(200)
      return { ...account, external_id: externalId }
    }

    it('is set at creation by a site key, shown on the account, and null when not given', async () => {
      const externalId = newExternalId()
      const res = await create(siteKey, { name: 'Tenant', external_id: externalId })
      expect(res.statusCode, res.body).toBe(201)
      expect(res.json()).toMatchObject({ name: 'Tenant', external_id: externalId, role: null })
      const read = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${res.json().id}`,
        headers: bearer(siteKey),
      })
      expect(read.json()).toMatchObject({ external_id: externalId })

      const owner = await registerAndLogin(t.app)
      const plain = await create(owner.token, { name: 'Plain' })
      expect(plain.json()).toMatchObject({ external_id: null })
      const explicitNull = await create(owner.token, { name: 'Null', external_id: null })
      expect(explicitNull.statusCode, explicitNull.body).toBe(201)
      expect(explicitNull.json()).toMatchObject({ external_id: null })
    })

    it("is refused (403) to people and account keys, so nobody can take or probe a tenant's id", async () => {
      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token, { name: 'Mine' })
      const taken = newExternalId('taken')
      expect((await create(siteKey, { name: 'Real tenant', external_id: taken })).statusCode).toBe(201)
      const keyRes = await t.app.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/api-keys`,
        headers: bearer(owner.token),
        payload: { name: 'mine', scopes: ['accounts:write'] },
      })
      const accountKey = keyRes.json().key as string
      // A free id and a taken one get the same 403: the answer says nothing about other tenants.
      for (const externalId of [taken, newExternalId('free')]) {
        for (const [credential, label] of [
          [owner.token, 'owner'],
          [accountKey, 'account key'],
        ] as const) {
          const patched = await patch(credential, account.id, { external_id: externalId })
          expect(problemOf(patched), label).toMatchObject({ status: 403, code: 'forbidden' })
          expect(patched.json().detail).toMatch(/site API key/)
        }
        const created = await create(owner.token, { name: 'Squat', external_id: externalId })
        expect(problemOf(created)).toMatchObject({ status: 403, code: 'forbidden' })
      }
      expect(problemOf(await patch(owner.token, account.id, { external_id: null }))).toMatchObject({
        status: 403,
      })
      const mine = await t.app.inject({ method: 'GET', url: '/v1/accounts', headers: bearer(owner.token) })
      expect(mine.json().data.map((a: { id: string }) => a.id)).toEqual([account.id])
      // The rest of the update is still theirs.
      expect((await patch(owner.token, account.id, { name: 'Renamed' })).statusCode).toBe(200)
    })

    it('is set, changed and cleared (null) by PATCH with a site key, and left alone when omitted', async () => {
      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token, { name: 'Patched' })
      const first = newExternalId()
      const set = await patch(siteKey, account.id, { external_id: first })
      expect(set.statusCode, set.body).toBe(200)
      expect(set.json()).toMatchObject({ external_id: first })

      const renamed = await patch(owner.token, account.id, { name: 'Renamed' })
      expect(renamed.json()).toMatchObject({ name: 'Renamed', external_id: first })
      // Setting the id the account already has is no conflict with itself.
      expect((await patch(siteKey, account.id, { external_id: first })).statusCode).toBe(200)

      const second = newExternalId()
      const changed = await patch(siteKey, account.id, { external_id: second })
      expect(changed.json()).toMatchObject({ external_id: second })
      expect((await lookup(owner.token, first)).json()).toEqual({ data: [], next_cursor: null })

      const cleared = await patch(siteKey, account.id, { external_id: null })
      expect(cleared.statusCode, cleared.body).toBe(200)
      expect(cleared.json()).toMatchObject({ external_id: null })
      expect((await lookup(owner.token, second)).json()).toEqual({ data: [], next_cursor: null })
    })

    it('answers 409 conflict to a duplicate, on create and on PATCH, and frees an id once cleared', async () => {
      const owner = await registerAndLogin(t.app)
      const taken = newExternalId()
      const holder = await create(siteKey, { name: 'Holder', external_id: taken })
      expect(holder.statusCode, holder.body).toBe(201)

      const duplicate = await create(siteKey, { name: 'Copy', external_id: taken })
      expect(problemOf(duplicate)).toMatchObject({ status: 409, code: 'conflict' })
      expect(duplicate.json().detail).toMatch(/external_id/)

      const second = await createAccount(t.app, owner.token, { name: 'Second' })
      const clash = await patch(siteKey, second.id, { external_id: taken })
      expect(problemOf(clash)).toMatchObject({ status: 409, code: 'conflict' })
      const unchanged = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${second.id}`,
        headers: bearer(owner.token),
      })
      expect(unchanged.json()).toMatchObject({ external_id: null })

      // Compared exactly: another case is another id.
      const upper = await create(siteKey, { name: 'Upper', external_id: taken.toUpperCase() })
      expect(upper.statusCode, upper.body).toBe(201)

      expect((await patch(siteKey, holder.json().id, { external_id: null })).statusCode).toBe(200)
      const reused = await patch(siteKey, second.id, { external_id: taken })
      expect(reused.statusCode, reused.body).toBe(200)
      expect(reused.json()).toMatchObject({ external_id: taken })
    })

    it('gives exactly one of many simultaneous creates with the same external_id its 201', async () => {
      const externalId = newExternalId('race')
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          create(siteKey, { name: `Racer ${externalId} ${i}`, external_id: externalId }),
        ),
      )
      const statuses = responses.map((res) => res.statusCode)
      expect(statuses.filter((status) => status === 201)).toHaveLength(1)
      expect(statuses.filter((status) => status !== 201)).toEqual(Array(19).fill(409))
      for (const res of responses.filter((r) => r.statusCode === 409)) {
        expect(problemOf(res)).toMatchObject({ code: 'conflict' })
      }
      const winner = responses.find((res) => res.statusCode === 201)
      const found = await lookup(siteKey, externalId)
      expect(found.json()).toEqual({
        data: [expect.objectContaining({ id: winner?.json().id })],
        next_cursor: null,
      })
      // The losers left no account behind.
      const made = await t.deps.db
        .select({ id: accounts.id })
        .from(accounts)
        .where(like(accounts.name, `Racer ${externalId} %`))
      expect(made).toHaveLength(1)
    })

    it('lets any member find an account by external_id, as a page of one with their role', async () => {
      const owner = await registerAndLogin(t.app)
      const member = await registerAndLogin(t.app)
      const externalId = newExternalId()
      const account = await ownedWithExternalId(owner, 'Findable', externalId)
      await createAccount(t.app, owner.token, { name: 'Other' })
      await addMember(t, owner.token, account.id, member)

      const asOwner = await lookup(owner.token, externalId)
      expect(asOwner.statusCode, asOwner.body).toBe(200)
      expect(asOwner.json()).toEqual({
        data: [{ ...account, role: 'owner', updated_at: expect.any(String) }],
        next_cursor: null,
      })
      const asMember = await lookup(member.token, externalId)
      expect(asMember.json()).toEqual({
        data: [expect.objectContaining({ id: account.id, external_id: externalId, role: 'member' })],
        next_cursor: null,
      })
      // limit and cursor do not change a lookup's answer.
      const limited = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts?external_id=${externalId}&limit=1`,
        headers: bearer(owner.token),
      })
      expect(limited.json()).toMatchObject({ data: [{ id: account.id }], next_cursor: null })
    })

    it('never reveals an account to someone who is not its member: an empty page, like an unknown id', async () => {
      const owner = await registerAndLogin(t.app)
      const stranger = await registerAndLogin(t.app)
      const externalId = newExternalId()
      await ownedWithExternalId(owner, 'Secret', externalId)
      await createAccount(t.app, stranger.token, { name: 'Stranger own' })

      const foreign = await lookup(stranger.token, externalId)
      expect(foreign.statusCode, foreign.body).toBe(200)
      expect(foreign.json()).toEqual({ data: [], next_cursor: null })
      const unknown = await lookup(stranger.token, newExternalId('nobody'))
      expect(unknown.json()).toEqual({ data: [], next_cursor: null })
      // A site admin signed in as a user lists only the accounts they are a member of.
      const admin = await loginAdmin(t.app)
      expect((await lookup(admin, externalId)).json()).toEqual({ data: [], next_cursor: null })
      const anonymous = await t.app.inject({ method: 'GET', url: `/v1/accounts?external_id=${externalId}` })
      expect(problemOf(anonymous)).toMatchObject({ status: 401, code: 'unauthorized' })
    })

    it('refuses an empty, too long, spaced or non-ASCII external_id with 400, in bodies and in the query', async () => {
      const owner = await registerAndLogin(t.app)
      const account = await createAccount(t.app, owner.token)
      for (const externalId of [
        '',
        'x'.repeat(256),
        'two words',
        ' padded',
        'tab\there',
        'nul\u0000',
        'café',
        7,
      ]) {
        const label = JSON.stringify(externalId)
        const created = await create(siteKey, { name: 'Bad', external_id: externalId })
        expect(problemOf(created), label).toMatchObject({ status: 400, code: 'validation_failed' })
        const patched = await patch(siteKey, account.id, { external_id: externalId })
        expect(problemOf(patched), label).toMatchObject({ status: 400, code: 'validation_failed' })
        if (typeof externalId === 'string' && externalId !== '') {
          expect(problemOf(await lookup(owner.token, externalId)), label).toMatchObject({
            status: 400,
            code: 'validation_failed',
          })
        }
      }
      const longest = 'x'.repeat(255)
      expect((await patch(siteKey, account.id, { external_id: `${longest.slice(1)}!` })).statusCode).toBe(200)
      const listed = await t.app.inject({ method: 'GET', url: '/v1/accounts', headers: bearer(owner.token) })
      expect(listed.json().data).toEqual([
        expect.objectContaining({ id: account.id, external_id: `${longest.slice(1)}!` }),
      ])
    })
  })

  describe('members', () => {
    let owner: TestUser
    let accountId: string
    /** The audit entries about a member leaving or being removed. */
    const auditOf = (userId: string) =>
      t.deps.db
        .select({ action: auditLog.action, actorUserId: auditLog.actorUserId, data: auditLog.data })
        .from(auditLog)
        .where(and(eq(auditLog.subjectId, userId), like(auditLog.action, 'member.%')))
    beforeAll(async () => {
      owner = await registerAndLogin(t.app)
      accountId = (await createAccount(t.app, owner.token, { name: 'Team' })).id
    })

    it('lists the people who joined by invitation with their roles, to every member', async () => {
      const member = await registerAndLogin(t.app)
      const admin = await registerAndLogin(t.app)
      await addMember(t, owner.token, accountId, member)
      await addMember(t, owner.token, accountId, admin, 'admin')

      const members = await listMembers(owner.token, accountId)
      expect(members).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ user_id: owner.id, role: 'owner' }),
          {
            user_id: member.id,
            email: member.email,
            name: null,
            role: 'member',
            created_at: expect.any(String),
          },
          expect.objectContaining({ user_id: admin.id, role: 'admin' }),
        ]),
      )
      // Members can read the member list too.
      expect(await listMembers(member.token, accountId)).toHaveLength(members.length)
    })

    it('no longer adds a registered user by email without their consent: POST members is gone (404)', async () => {
      const victim = await registerAndLogin(t.app)
      for (const role of ['member', 'owner']) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/v1/accounts/${accountId}/members`,
          headers: bearer(owner.token),
          payload: { email: victim.email, role },
        })
        expect(problemOf(res)).toMatchObject({ status: 404, code: 'not_found' })
      }
      expect((await listMembers(owner.token, accountId)).map((m) => m.user_id)).not.toContain(victim.id)
      const seen = await t.app.inject({ method: 'GET', url: '/v1/accounts', headers: bearer(victim.token) })
      expect(seen.json().data).toEqual([])
    })

    it('hides the member list of a foreign account (404)', async () => {
      const stranger = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${accountId}/members`,
        headers: bearer(stranger.token),
      })
      expect(problemOf(res)).toMatchObject({ status: 404, code: 'not_found' })
    })

    it('changes roles: admins between member and admin, only owners to or from owner, never the last owner', async () => {
      const boss = await registerAndLogin(t.app)
      const id = (await createAccount(t.app, boss.token)).id
      const admin = await registerAndLogin(t.app)
      const member = await registerAndLogin(t.app)
      await addMember(t, boss.token, id, admin, 'admin')
      await addMember(t, boss.token, id, member)
      const change = (token: string, userId: string, role: string) =>
        t.app.inject({
          method: 'PATCH',
          url: `/v1/accounts/${id}/members/${userId}`,
          headers: bearer(token),
          payload: { role },
        })

      const promoted = await change(admin.token, member.id, 'admin')
      expect(promoted.statusCode, promoted.body).toBe(200)
      expect(promoted.json()).toMatchObject({ user_id: member.id, role: 'admin' })
      expect(problemOf(await change(admin.token, member.id, 'owner'))).toMatchObject({
        status: 403,
        code: 'forbidden',
      })
      expect(problemOf(await change(admin.token, boss.id, 'member'))).toMatchObject({ status: 403 })
      expect(problemOf(await change(boss.token, boss.id, 'admin'))).toMatchObject({
        status: 409,
        code: 'conflict',
      })
      expect((await change(boss.token, admin.id, 'owner')).statusCode).toBe(200)
      expect((await change(boss.token, boss.id, 'member')).statusCode).toBe(200)
      expect(problemOf(await change(boss.token, member.id, 'member'))).toMatchObject({ status: 403 })
      expect(problemOf(await change(admin.token, admin.id, 'king'))).toMatchObject({
        status: 400,
        code: 'validation_failed',
      })
      const stranger = await registerAndLogin(t.app)
      expect(problemOf(await change(admin.token, stranger.id, 'member'))).toMatchObject({
        status: 404,
        code: 'not_found',
      })
      const roles = (await listMembers(admin.token, id)).map((m) => [m.user_id, m.role] as const)
      expect(new Map(roles)).toEqual(
        new Map([
          [boss.id, 'member'],
          [admin.id, 'owner'],
          [member.id, 'admin'],
        ]),
      )
    })

    it('never leaves an account without an owner when two owners demote or remove each other at once', async () => {
      for (const action of ['demote', 'remove'] as const) {
        const first = await registerAndLogin(t.app)
        const id = (await createAccount(t.app, first.token)).id
        const second = await registerAndLogin(t.app)
        await addMember(t, first.token, id, second, 'owner')
        const act = (actor: TestUser, target: TestUser) =>
          action === 'demote'
            ? t.app.inject({
                method: 'PATCH',
                url: `/v1/accounts/${id}/members/${target.id}`,
                headers: bearer(actor.token),
                payload: { role: 'member' },
              })
            : removeMember(actor.token, id, target.id)
        const answers = await Promise.all([act(first, second), act(second, first)])
        // One wins; the other is refused: 409 (the last owner) when both passed their guards first,
        // 403 or 404 when it ran after losing its own ownership or membership.
        const [a, b] = answers.map((res) => res.statusCode)
        const won = action === 'demote' ? 200 : 204
        expect([a, b].filter((status) => status === won)).toHaveLength(1)
        expect([a, b].filter((status) => status !== won)).toEqual([expect.toBeOneOf([403, 404, 409])])
        const survivor = a === won ? first : second
        const owners = (await listMembers(survivor.token, id)).filter((m) => m.role === 'owner')
        expect(owners).toHaveLength(1)
      }
    })

    it('pages through members without duplicates or gaps', async () => {
      const boss = await registerAndLogin(t.app)
      const id = (await createAccount(t.app, boss.token)).id
      const expected = new Set([boss.id])
      for (let i = 0; i < 4; i++) {
        const user = await registerAndLogin(t.app)
        await addMember(t, boss.token, id, user)
        expected.add(user.id)
      }
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/accounts/${id}/members${query}`,
          headers: bearer(boss.token),
        })
        const body = res.json() as MemberPage
        seen.push(...body.data.map((m) => m.user_id))
        cursor = body.next_cursor
        pages++
      } while (cursor && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toHaveLength(5)
      expect(new Set(seen)).toEqual(expected)
    })

    it('lets an admin remove a member, who then no longer sees the account', async () => {
      const admin = await registerAndLogin(t.app)
      const member = await registerAndLogin(t.app)
      await addMember(t, owner.token, accountId, admin, 'admin')
      await addMember(t, owner.token, accountId, member)

      const removed = await removeMember(admin.token, accountId, member.id)
      expect(removed.statusCode, removed.body).toBe(204)
      expect((await listMembers(owner.token, accountId)).map((m) => m.user_id)).not.toContain(member.id)
      const read = await t.app.inject({
        method: 'GET',
        url: `/v1/accounts/${accountId}`,
        headers: bearer(member.token),
      })
      expect(problemOf(read)).toMatchObject({ status: 404, code: 'not_found' })

      const again = await removeMember(admin.token, accountId, member.id)
      expect(problemOf(again)).toMatchObject({ status: 404, code: 'not_found' })
      expect(await auditOf(member.id)).toEqual([
        { action: 'member.removed', actorUserId: admin.id, data: { role: 'member' } },
      ])
    })

    it('lets a member leave, but not remove someone else (403)', async () => {
      const member = await registerAndLogin(t.app)
      const other = await registerAndLogin(t.app)
      await addMember(t, owner.token, accountId, member)
      await addMember(t, owner.token, accountId, other)

      const kick = await removeMember(member.token, accountId, other.id)
      expect(problemOf(kick)).toMatchObject({ status: 403, code: 'forbidden' })

      const leave = await removeMember(member.token, accountId, member.id)
      expect(leave.statusCode, leave.body).toBe(204)
      expect(await auditOf(member.id)).toEqual([
        { action: 'member.left', actorUserId: member.id, data: { role: 'member' } },
      ])
      const ids = (await listMembers(owner.token, accountId)).map((m) => m.user_id)
      expect(ids).not.toContain(member.id)
      expect(ids).toContain(other.id)
    })

    it('refuses to let an admin remove an owner (403)', async () => {
      const admin = await registerAndLogin(t.app)
      await addMember(t, owner.token, accountId, admin, 'admin')
      const res = await removeMember(admin.token, accountId, owner.id)
      expect(problemOf(res)).toMatchObject({ status: 403, code: 'forbidden' })
    })

    it('never removes the last owner (409), but an owner may leave when another owner remains', async () => {
      const solo = await registerAndLogin(t.app)
      const id = (await createAccount(t.app, solo.token)).id
      const last = await removeMember(solo.token, id, solo.id)
      expect(problemOf(last)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await listMembers(solo.token, id)).map((m) => m.user_id)).toEqual([solo.id])

      const second = await registerAndLogin(t.app)
      await addMember(t, solo.token, id, second, 'owner')
      const leave = await removeMember(solo.token, id, solo.id)
      expect(leave.statusCode, leave.body).toBe(204)
      const stillLast = await removeMember(second.token, id, second.id)
      expect(problemOf(stillLast)).toMatchObject({ status: 409, code: 'conflict' })
      expect((await listMembers(second.token, id)).map((m) => ({ id: m.user_id, role: m.role }))).toEqual([
        { id: second.id, role: 'owner' },
      ])
    })
  })
})
