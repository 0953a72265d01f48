// Accounts made by the integrating product's backend with a site API key: no member at first, the
// owner invited by address, and that address standing in for the owner (billing mail, one trial
// per owner) until someone accepts.
import { and, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  lastMailTo,
  loginAdmin,
  mailToken,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
  verifyEmail,
} from '../../../test/helpers/app.ts'
import { createPlan } from '../../../test/helpers/billing.ts'
import { auditLog } from '../audit/tables.ts'
import { invitations } from '../invitations/tables.ts'
import { accountMembers } from './tables.ts'

describe('accounts created with a site API key', () => {
  let t: TestApp
  let admin: string
  let siteKey: string

  const request = (method: 'GET' | 'POST' | 'PATCH', url: string, token: string, payload?: object) =>
    t.app.inject({ method, url, headers: bearer(token), ...(payload && { payload }) })

  const makeKey = async (url: string, token: string, scopes: string[]) => {
    const res = await request('POST', url, token, { name: 'backend', scopes })
    expect(res.statusCode, res.body).toBe(201)
    return res.json().key as string
  }

  /** A new tenant made with the site key; `owner_email` when given. */
  const tenant = async (body: Record<string, unknown> = {}) => {
    const res = await request('POST', '/v1/accounts', siteKey, { name: 'Salon', ...body })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as { id: string; external_id: string | null; role: string | null }
  }

  const subscribe = async (accountId: string, plan: string) => {
    const res = await request('POST', `/v1/accounts/${accountId}/subscription`, siteKey, { plan })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as { status: string; trial_end: string | null }
  }

  beforeAll(async () => {
    t = await buildTestApp()
    admin = await loginAdmin(t.app)
    siteKey = await makeKey('/v1/admin/api-keys', admin, [
      'accounts:read',
      'accounts:write',
      'subscriptions:write',
    ])
  })
  afterAll(async () => {
    await t?.close()
  })

  it('creates the tenant with no member, invites its owner, and the invitee who accepts becomes owner', async () => {
    const ownerEmail = uniqueEmail('tenant-owner')
    const externalId = `tenant-${Date.now()}`
    const account = await tenant({ name: 'Chic-Chic', external_id: externalId, owner_email: ownerEmail })
    expect(account).toMatchObject({ external_id: externalId, role: null })

    expect(
      await t.deps.db.select().from(accountMembers).where(eq(accountMembers.accountId, account.id)),
    ).toEqual([])
    const [invitation] = await t.deps.db
      .select()
      .from(invitations)
      .where(eq(invitations.accountId, account.id))
    expect(invitation).toMatchObject({ email: ownerEmail, role: 'owner', status: 'pending', invitedBy: null })
    const audited = await t.deps.db
      .select({ action: auditLog.action, actorType: auditLog.actorType })
      .from(auditLog)
      .where(eq(auditLog.accountId, account.id))
    expect(audited).toEqual(
      expect.arrayContaining([
        { action: 'account.created', actorType: 'key' },
        { action: 'invitation.created', actorType: 'key' },
      ]),
    )

    // Updates by the key are audited with the key as actor.
    const renamed = await request('PATCH', `/v1/accounts/${account.id}`, siteKey, { name: 'Chic-Chic Paris' })
    expect(renamed.statusCode, renamed.body).toBe(200)
    const [updated] = await t.deps.db
      .select({ actorType: auditLog.actorType, data: auditLog.data })
      .from(auditLog)
      .where(and(eq(auditLog.accountId, account.id), eq(auditLog.action, 'account.updated')))
    expect(updated).toEqual({ actorType: 'key', data: { name: 'Chic-Chic Paris' } })

    // The key finds its tenant by the product's own id.
    const found = await request('GET', `/v1/accounts?external_id=${externalId}`, siteKey)
    expect(found.json().data.map((a: { id: string }) => a.id)).toEqual([account.id])

    // The invited address signs up, verifies it, follows the emailed link and is the owner.
    const message = await lastMailTo(t, ownerEmail, /invited/i)
    expect(message.text).toContain('Chic-Chic')
    const user = await registerAndLogin(t.app, { email: ownerEmail })
    await verifyEmail(t, user)
    const accepted = await request('POST', '/v1/invitations/accept', user.token, {
      token: mailToken(message),
    })
    expect(accepted.statusCode, accepted.body).toBe(200)
    const mine = await request('GET', `/v1/accounts/${account.id}`, user.token)
    expect(mine.statusCode, mine.body).toBe(200)
    expect(mine.json().role).toBe('owner')
  })

  it('refuses an account key, a key without accounts:write, owner_email from a user, a taken external_id', async () => {
    const owner = await registerAndLogin(t.app)
    const own = await request('POST', '/v1/accounts', owner.token, { name: 'Own' })
    expect(own.statusCode, own.body).toBe(201)
    const accountKey = await makeKey(`/v1/accounts/${own.json().id}/api-keys`, owner.token, [
      'accounts:read',
      'accounts:write',
    ])
    const byAccountKey = await request('POST', '/v1/accounts', accountKey, { name: 'Nope' })
    expect(byAccountKey.statusCode, byAccountKey.body).toBe(403)
    expect(byAccountKey.json().code).toBe('forbidden')

    const readOnly = await makeKey('/v1/admin/api-keys', admin, ['accounts:read'])
    const byReadOnly = await request('POST', '/v1/accounts', readOnly, { name: 'Nope' })
    expect(byReadOnly.statusCode, byReadOnly.body).toBe(403)
    expect(byReadOnly.json().detail).toContain('accounts:write')

    const byUser = await request('POST', '/v1/accounts', owner.token, {
      name: 'Nope',
      owner_email: uniqueEmail(),
    })
    expect(byUser.statusCode, byUser.body).toBe(400)
    expect(byUser.json().code).toBe('validation_failed')

    const badAddress = await request('POST', '/v1/accounts', siteKey, {
      name: 'Nope',
      owner_email: 'not-an-email',
    })
    expect(badAddress.statusCode, badAddress.body).toBe(400)

    const externalId = `dup-${Date.now()}`
    await tenant({ external_id: externalId })
    const duplicate = await request('POST', '/v1/accounts', siteKey, {
      name: 'Again',
      external_id: externalId,
    })
    expect(duplicate.statusCode, duplicate.body).toBe(409)
    // Nothing half-written: no second account, no invitation for the refused one.
    const refusedInvite = await request('POST', '/v1/accounts', siteKey, {
      name: 'Again',
      external_id: externalId,
      owner_email: 'refused@example.com',
    })
    expect(refusedInvite.statusCode).toBe(409)
    expect(
      await t.deps.db.select().from(invitations).where(eq(invitations.email, 'refused@example.com')),
    ).toEqual([])
  })

  it('makes one account for retries with the same Idempotency-Key, also at once', async () => {
    const externalId = `idem-${Date.now()}`
    const payload = { name: 'Once', external_id: externalId, owner_email: uniqueEmail('once') }
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/accounts',
        headers: { ...bearer(siteKey), 'idempotency-key': externalId },
        payload,
      })
    const first = await send()
    expect(first.statusCode, first.body).toBe(201)
    const again = await Promise.all([send(), send(), send()])
    for (const res of again) {
      expect([201, 409]).toContain(res.statusCode)
      if (res.statusCode === 201) expect(res.json().id).toBe(first.json().id)
    }
    expect(again.some((res) => res.headers['idempotent-replayed'] === 'true')).toBe(true)
    const made = await t.deps.db.select().from(invitations).where(eq(invitations.email, payload.owner_email))
    expect(made).toHaveLength(1)
  })

  it('sends billing mail to the invited address until an owner accepts', async () => {
    const ownerEmail = uniqueEmail('billing')
    const account = await tenant({ owner_email: ownerEmail })
    await subscribe(account.id, 'basic')
    const started = await lastMailTo(t, ownerEmail, /has started/)
    expect(started.subject).toContain('Basic')
  })

  it('counts the invited address in the one-trial-per-owner rule, whatever its case', async () => {
    const plan = await createPlan(t, { trial_days: 14 })
    const ownerEmail = uniqueEmail('trial')
    const first = await tenant({ owner_email: ownerEmail })
    expect((await subscribe(first.id, plan)).status).toBe('trialing')

    const second = await tenant({ owner_email: ownerEmail.toUpperCase() })
    const paid = await subscribe(second.id, plan)
    expect(paid).toMatchObject({ status: 'active', trial_end: null })

    // The same person signing up and making their own account had their trial already.
    const user = await registerAndLogin(t.app, { email: ownerEmail })
    const own = await request('POST', '/v1/accounts', user.token, { name: 'Own' })
    const res = await request('POST', `/v1/accounts/${own.json().id}/subscription`, user.token, { plan })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.json().status).toBe('active')

    // An account with no owner at all has its own one trial.
    const ownerless = await tenant()
    expect((await subscribe(ownerless.id, plan)).status).toBe('trialing')
  })

  it('stops standing in once the invitation is revoked or an owner accepts', async () => {
    const ownerEmail = uniqueEmail('revoked')
    const account = await tenant({ owner_email: ownerEmail })
    await t.deps.db
      .update(invitations)
      .set({ status: 'revoked', revokedAt: new Date() })
      .where(and(eq(invitations.accountId, account.id), eq(invitations.email, ownerEmail)))
    await subscribe(account.id, 'basic')
    await expect(lastMailTo(t, ownerEmail, /has started/)).rejects.toThrow(/no mail/)
  })

  it('lets the site key replace a mistyped owner address; an account key invites no owner', async () => {
    const account = await tenant({ owner_email: 'ann@exmaple.com' })
    const list = await request('GET', `/v1/accounts/${account.id}/invitations?status=pending`, siteKey)
    expect(list.statusCode, list.body).toBe(200)
    const [mistyped] = list.json().data
    expect(mistyped).toMatchObject({ email: 'ann@exmaple.com', role: 'owner', invited_by: null })
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/v1/accounts/${account.id}/invitations/${mistyped.id}`,
      headers: bearer(siteKey),
    })
    expect(revoked.statusCode, revoked.body).toBe(204)
    const fixed = uniqueEmail('ann')
    const again = await request('POST', `/v1/accounts/${account.id}/invitations`, siteKey, {
      email: fixed,
      role: 'owner',
    })
    expect(again.statusCode, again.body).toBe(202)
    await subscribe(account.id, 'basic')
    await lastMailTo(t, fixed, /has started/)

    // An account key acts as an admin would: members and admins, never an owner.
    // Managing keys is for people: a key makes no key.
    const keyByKey = await request('POST', `/v1/accounts/${account.id}/api-keys`, siteKey, {
      name: 'nope',
      scopes: ['accounts:write'],
    })
    expect(keyByKey.statusCode, keyByKey.body).toBe(403)
    const user = await registerAndLogin(t.app, { email: fixed })
    await verifyEmail(t, user)
    const accepted = await request('POST', '/v1/invitations/accept', user.token, {
      token: mailToken(await lastMailTo(t, fixed, /invited/i)),
    })
    expect(accepted.statusCode, accepted.body).toBe(200)
    const ownKey = await makeKey(`/v1/accounts/${account.id}/api-keys`, user.token, ['accounts:write'])
    const asOwner = await request('POST', `/v1/accounts/${account.id}/invitations`, ownKey, {
      email: uniqueEmail(),
      role: 'owner',
    })
    expect(asOwner.statusCode, asOwner.body).toBe(403)
    const asMember = await request('POST', `/v1/accounts/${account.id}/invitations`, ownKey, {
      email: uniqueEmail(),
      role: 'member',
    })
    expect(asMember.statusCode, asMember.body).toBe(202)
  })
})
