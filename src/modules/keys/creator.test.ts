// An account key acts for its account only while the person who made it can still make keys
// there: leaving, removal, a demotion below admin and deactivation revoke the keys they made, in
// the same transaction. Without it, an admin removed from an account kept a key with
// `accounts:write` and invited herself back. Site admins see and revoke every key.
import { and, eq } from 'drizzle-orm'
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
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import { auditLog } from '../audit/tables.ts'
import { users } from '../auth/tables.ts'
import { createKey } from './keys.ts'
import type { KeyScope } from './scopes.ts'

interface MadeKey {
  id: string
  key: string
  account_id: string | null
  revoked_at: string | null
}

describe('account keys and their maker', () => {
  let t: TestApp
  let admin: string
  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const request = (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    token: string,
    payload?: object,
  ) => t.app.inject({ method, url, headers: bearer(token), ...(payload && { payload }) })

  const scopes: KeyScope[] = ['accounts:read', 'accounts:write', 'resources:write']

  const makeKey = async (token: string, accountId: string): Promise<MadeKey> => {
    const res = await request('POST', `/v1/accounts/${accountId}/api-keys`, token, { name: 'k', scopes })
    expect(res.statusCode, res.body).toBe(201)
    return res.json()
  }

  /** An account with its owner, two admins (erin and frank) each with a key, and a site key. */
  const setup = async () => {
    const { owner, account } = await subscribedAccount(t.app, 'pro')
    const accountId = account.id
    const erin = await registerAndLogin(t.app)
    const frank = await registerAndLogin(t.app)
    await addMember(t, owner.token, accountId, erin, 'admin')
    await addMember(t, owner.token, accountId, frank, 'admin')
    const erinKey = await makeKey(erin.token, accountId)
    const frankKey = await makeKey(frank.token, accountId)
    const ownerKey = await makeKey(owner.token, accountId)
    const site = await request('POST', '/v1/admin/api-keys', admin, { name: 'site', scopes })
    expect(site.statusCode, site.body).toBe(201)
    const operatorKey = await t.deps.db.transaction((tx) =>
      createKey(tx, { name: 'cli', scopes }, accountId, null, t.clock.now()),
    )
    return {
      owner,
      erin,
      frank,
      accountId,
      erinKey,
      others: [frankKey, ownerKey, site.json() as MadeKey, operatorKey],
    }
  }

  /** The key on a hot path (staff) and on a guarded route (the account). */
  const works = async (key: string, accountId: string) => {
    const hot = await request('POST', `/v1/accounts/${accountId}/staff`, key, { name: 'Kim' })
    const guarded = await request('GET', `/v1/accounts/${accountId}`, key)
    return [hot.statusCode, guarded.statusCode]
  }

  const revokedWith = async (keyId: string) =>
    t.deps.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.subjectId, keyId), eq(auditLog.action, 'api_key.revoked')))

  const expectRevoked = async (
    key: MadeKey,
    accountId: string,
    reason: string,
    actor: TestUser,
  ): Promise<void> => {
    expect(await works(key.key, accountId)).toEqual([401, 401])
    const entries = await revokedWith(key.id)
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ actorType: 'user', actorUserId: actor.id, accountId })
    expect(entries[0]?.data).toMatchObject({ reason })
  }

  const expectOthersWork = async (others: MadeKey[], accountId: string) => {
    for (const other of others) {
      expect(await works(other.key, accountId)).toEqual([201, 200])
      expect(await revokedWith(other.id)).toHaveLength(0)
    }
  }

  it("revokes a removed admin's keys at once: she cannot invite herself back with one", async () => {
    const { owner, erin, accountId, erinKey, others } = await setup()
    const removed = await request('DELETE', `/v1/accounts/${accountId}/members/${erin.id}`, owner.token)
    expect(removed.statusCode, removed.body).toBe(204)
    const invite = await request('POST', `/v1/accounts/${accountId}/invitations`, erinKey.key, {
      email: erin.email,
      role: 'admin',
    })
    expect(problemOf(invite)).toMatchObject({ status: 401, code: 'unauthorized' })
    await expectRevoked(erinKey, accountId, 'creator_removed', owner)
    await expectOthersWork(others, accountId)
  })

  it('revokes the keys of a member who leaves', async () => {
    const { erin, accountId, erinKey, others } = await setup()
    const left = await request('DELETE', `/v1/accounts/${accountId}/members/${erin.id}`, erin.token)
    expect(left.statusCode, left.body).toBe(204)
    await expectRevoked(erinKey, accountId, 'creator_left', erin)
    await expectOthersWork(others, accountId)
  })

  it('revokes the keys of an admin made a plain member, not of one made an owner', async () => {
    const { owner, erin, frank, accountId, erinKey, others } = await setup()
    const promoted = await request('PATCH', `/v1/accounts/${accountId}/members/${frank.id}`, owner.token, {
      role: 'owner',
    })
    expect(promoted.statusCode, promoted.body).toBe(200)
    const demoted = await request('PATCH', `/v1/accounts/${accountId}/members/${erin.id}`, owner.token, {
      role: 'member',
    })
    expect(demoted.statusCode, demoted.body).toBe(200)
    await expectRevoked(erinKey, accountId, 'creator_demoted', owner)
    await expectOthersWork(others, accountId)
  })

  it('revokes the keys a deactivated user made, in every account, and only theirs', async () => {
    const { erin, accountId, erinKey, others } = await setup()
    const second = await subscribedAccount(t.app, 'pro')
    await addMember(t, second.owner.token, second.account.id, erin, 'admin')
    const secondKey = await makeKey(erin.token, second.account.id)
    const secondOwnerKey = await makeKey(second.owner.token, second.account.id)
    const deactivated = await request('POST', '/v1/auth/deactivate', erin.token)
    expect(deactivated.statusCode, deactivated.body).toBe(204)
    await expectRevoked(erinKey, accountId, 'creator_deactivated', erin)
    await expectRevoked(secondKey, second.account.id, 'creator_deactivated', erin)
    await expectOthersWork(others, accountId)
    await expectOthersWork([secondOwnerKey], second.account.id)
  })

  it('leaves the site keys a person made alone, when their account keys go', async () => {
    const { owner, account } = await subscribedAccount(t.app, 'pro')
    const accountId = account.id
    const ops = await registerAndLogin(t.app, { email: uniqueEmail('ops') })
    await t.deps.db.update(users).set({ isAdmin: true }).where(eq(users.id, ops.id))
    await addMember(t, owner.token, accountId, ops, 'admin')
    const site = await request('POST', '/v1/admin/api-keys', ops.token, { name: 'site', scopes })
    expect(site.statusCode, site.body).toBe(201)
    const own = await makeKey(ops.token, accountId)
    const deactivated = await request('POST', '/v1/auth/deactivate', ops.token)
    expect(deactivated.statusCode, deactivated.body).toBe(204)
    await expectRevoked(own, accountId, 'creator_deactivated', ops)
    await expectOthersWork([site.json()], accountId)
  })

  it("lets a site admin list an account's keys and revoke one", async () => {
    const { accountId, erinKey, others } = await setup()
    const listed = await request('GET', `/v1/admin/api-keys?account_id=${accountId}`, admin)
    expect(listed.statusCode, listed.body).toBe(200)
    const ids = (listed.json().data as MadeKey[]).map((key) => key.id)
    expect(ids).toContain(erinKey.id)
    expect(ids).toHaveLength(4)
    for (const key of listed.json().data as MadeKey[]) expect(key.account_id).toBe(accountId)
    expect(listed.body).not.toContain(erinKey.key)

    const siteList = await request('GET', '/v1/admin/api-keys?limit=100', admin)
    expect((siteList.json().data as MadeKey[]).every((key) => key.account_id === null)).toBe(true)

    const asAccount = await request('GET', `/v1/accounts/${accountId}/api-keys`, admin)
    expect(asAccount.statusCode, asAccount.body).toBe(200)
    expect((asAccount.json().data as MadeKey[]).map((key) => key.id).sort()).toEqual([...ids].sort())

    const revoked = await request('DELETE', `/v1/admin/api-keys/${erinKey.id}`, admin)
    expect(revoked.statusCode, revoked.body).toBe(200)
    expect(revoked.json()).toMatchObject({ id: erinKey.id, account_id: accountId })
    expect(revoked.json().revoked_at).not.toBeNull()
    expect(await works(erinKey.key, accountId)).toEqual([401, 401])
    const [entry] = await revokedWith(erinKey.id)
    expect(entry).toMatchObject({ actorType: 'user', accountId })
    await expectOthersWork(others.slice(0, 1), accountId)

    // Still people only: a site key neither lists nor revokes keys.
    const siteKey = others[2]
    if (!siteKey) throw new Error('no site key')
    expect((await request('GET', `/v1/admin/api-keys?account_id=${accountId}`, siteKey.key)).statusCode).toBe(
      403,
    )
  })
})
