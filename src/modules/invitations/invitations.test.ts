// People join an account by invitation only (hardening issue, item 4): inviting never tells whether
// an address has a user, nobody is added without accepting, and a link works once, for its
// addressee, while it is pending.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addMember,
  bearer,
  buildTestApp,
  createAccount,
  invitationToken,
  invite,
  lastMailTo,
  login,
  loginAdmin,
  mailToken,
  problemOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  uniqueEmail,
  verifyEmail,
} from '../../../test/helpers/app.ts'
import type { paths } from '../../../test/helpers/client.ts'
import { sha256 } from '../../core/crypto.ts'
import { queryRows } from '../../core/db.ts'

type InvitationPage =
  paths['/v1/accounts/{accountId}/invitations']['get']['responses'][200]['content']['application/json']

const day = 24 * 60 * 60_000

describe('invitations', () => {
  let t: TestApp
  let owner: TestUser

  beforeAll(async () => {
    t = await buildTestApp()
    owner = await registerAndLogin(t.app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const post = (url: string, payload: object, token?: string, headers: Record<string, string> = {}) =>
    t.app.inject({ method: 'POST', url, payload, headers: { ...(token ? bearer(token) : {}), ...headers } })
  const inviteRaw = (token: string, account: string, payload: object, headers: Record<string, string> = {}) =>
    post(`/v1/accounts/${account}/invitations`, payload, token, headers)
  const accept = (token: string, invitation: string, headers: Record<string, string> = {}) =>
    post('/v1/invitations/accept', { token: invitation }, token, headers)
  const list = (token: string, account: string, query = '') =>
    t.app.inject({
      method: 'GET',
      url: `/v1/accounts/${account}/invitations${query}`,
      headers: bearer(token),
    })
  const revoke = (token: string, account: string, invitationId: string) =>
    t.app.inject({
      method: 'DELETE',
      url: `/v1/accounts/${account}/invitations/${invitationId}`,
      headers: bearer(token),
    })
  const memberIds = async (account: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/accounts/${account}/members?limit=100`,
      headers: bearer(owner.token),
    })
    return (res.json().data as { user_id: string }[]).map((m) => m.user_id)
  }
  const membershipRows = async (account: string, userId: string) =>
    (
      await queryRows<{ n: number }>(
        t.deps.db,
        sql`select count(*)::int as n from account_members where account_id = ${account}::uuid and user_id = ${userId}::uuid`,
      )
    )[0]?.n
  /** A registered user with a verified email, as someone who followed their verification link. */
  const verifiedUser = async () => {
    const user = await registerAndLogin(t.app)
    await verifyEmail(t, user)
    return user
  }
  /** A fresh account of the shared owner, so tests do not see each other's invitations. */
  const newAccount = async () => (await createAccount(t.app, owner.token, { name: 'Salon' })).id

  describe('email enumeration and adding people without consent', () => {
    it('answers 202 with the same body for a registered and an unknown address, and emails both', async () => {
      const account = await newAccount()
      const registered = await registerAndLogin(t.app)
      const unknown = uniqueEmail('nobody')
      const toUser = await inviteRaw(owner.token, account, { email: registered.email, role: 'member' })
      const toNobody = await inviteRaw(owner.token, account, { email: unknown, role: 'member' })
      expect(toUser.statusCode, toUser.body).toBe(202)
      expect(toNobody.statusCode, toNobody.body).toBe(202)
      expect(toNobody.headers['content-type']).toBe(toUser.headers['content-type'])
      // Identical but for the address itself and the fields every invitation has its own value of.
      const comparable = (body: Record<string, unknown>) => ({
        ...body,
        id: 'id',
        email: 'email',
        created_at: 'at',
        updated_at: 'at',
        expires_at: 'at',
      })
      expect(comparable(toNobody.json())).toEqual(comparable(toUser.json()))
      expect(toUser.json()).toEqual({
        id: expect.any(String),
        account_id: account,
        email: registered.email,
        role: 'member',
        status: 'pending',
        invited_by: owner.id,
        expires_at: expect.any(String),
        accepted_at: null,
        revoked_at: null,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      })
      expect(Date.parse(toUser.json().expires_at) - t.clock.now().getTime()).toBe(7 * day)

      for (const email of [registered.email, unknown]) {
        const mail = await lastMailTo(t, email, /invited to join Salon/)
        expect(mail.text).toContain('http://plangate.test/accept-invitation?token=')
        expect(mail.html).toContain('href="http://plangate.test/accept-invitation?token=')
        expect(mail.text).toContain('as a member')
      }
      // Nobody joined: the registered user is not a member until they accept.
      expect(await memberIds(account)).toEqual([owner.id])
      const theirs = await t.app.inject({
        method: 'GET',
        url: '/v1/accounts',
        headers: bearer(registered.token),
      })
      expect(theirs.json().data).toEqual([])
    })

    it('stores the link token only as its SHA-256', async () => {
      const account = await newAccount()
      const email = uniqueEmail('hashed')
      const { id } = await invite(t, owner.token, account, email)
      const token = await invitationToken(t, email)
      const rows = await queryRows<{ token_hash: string }>(
        t.deps.db,
        sql`select token_hash from invitations where id = ${id}::uuid`,
      )
      expect(rows).toEqual([{ token_hash: sha256(token) }])
      const everything = JSON.stringify(
        await queryRows(t.deps.db, sql`select * from invitations where id = ${id}::uuid`),
      )
      expect(everything).not.toContain(token)
    })

    it('a newcomer who registers with an invited address joins only by accepting the link (no auto-join)', async () => {
      const account = await newAccount()
      const email = uniqueEmail('newcomer')
      await invite(t, owner.token, account, email, 'admin')
      const newcomer = await registerAndLogin(t.app, { email })
      await verifyEmail(t, newcomer)
      expect(await memberIds(account)).not.toContain(newcomer.id)

      const joined = await accept(newcomer.token, await invitationToken(t, email))
      expect(joined.statusCode, joined.body).toBe(200)
      expect(joined.json()).toMatchObject({
        account: { id: account, role: 'admin' },
        invitation: { email, role: 'admin', status: 'accepted', accepted_at: expect.any(String) },
      })
      expect(await memberIds(account)).toContain(newcomer.id)
    })
  })

  describe('accepting', () => {
    it('refuses a link accepted by another signed-in user (403 invitation_email_mismatch); nobody joins', async () => {
      const account = await newAccount()
      const addressee = await verifiedUser()
      const thief = await verifiedUser()
      await invite(t, owner.token, account, addressee.email)
      const token = await invitationToken(t, addressee.email)

      expect(problemOf(await accept(thief.token, token))).toMatchObject({
        status: 403,
        code: 'invitation_email_mismatch',
      })
      expect(await memberIds(account)).not.toContain(thief.id)
      // The link still works for its addressee.
      expect((await accept(addressee.token, token)).statusCode).toBe(200)
    })

    it('refuses an addressee whose email is not verified (403 email_not_verified), until it is', async () => {
      const account = await newAccount()
      const unverified = await registerAndLogin(t.app)
      await invite(t, owner.token, account, unverified.email)
      const token = await invitationToken(t, unverified.email)

      const refused = await accept(unverified.token, token)
      expect(problemOf(refused)).toMatchObject({ status: 403, code: 'email_not_verified' })
      expect(await memberIds(account)).not.toContain(unverified.id)

      await verifyEmail(t, unverified)
      expect((await accept(unverified.token, token)).statusCode).toBe(200)
    })

    it('refuses a reused link (410 invitation_used) and adds nothing twice', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      await invite(t, owner.token, account, user.email)
      const token = await invitationToken(t, user.email)
      expect((await accept(user.token, token)).statusCode).toBe(200)
      expect(problemOf(await accept(user.token, token))).toMatchObject({
        status: 410,
        code: 'invitation_used',
      })
      expect(await membershipRows(account, user.id)).toBe(1)
    })

    it('refuses an expired link (410 invitation_expired) after 7 days, and lists it as expired', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      const { id } = await invite(t, owner.token, account, user.email)
      const token = await invitationToken(t, user.email)
      t.clock.advance(7 * day + 1000)
      try {
        // Access tokens live minutes: both sign in again a week later.
        const userNow = (await login(t.app, user.email, user.password)).token
        const ownerNow = (await login(t.app, owner.email, owner.password)).token
        expect(problemOf(await accept(userNow, token))).toMatchObject({
          status: 410,
          code: 'invitation_expired',
        })
        const expired = await list(ownerNow, account, '?status=expired')
        expect(expired.json().data.map((i: { id: string }) => i.id)).toEqual([id])
        expect((await list(ownerNow, account, '?status=pending')).json().data).toEqual([])
      } finally {
        t.clock.advance(-(7 * day + 1000))
      }
      expect(await memberIds(account)).not.toContain(user.id)
    })

    it('refuses a revoked link (410 invitation_revoked)', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      const { id } = await invite(t, owner.token, account, user.email)
      const token = await invitationToken(t, user.email)
      expect((await revoke(owner.token, account, id)).statusCode).toBe(204)
      expect(problemOf(await accept(user.token, token))).toMatchObject({
        status: 410,
        code: 'invitation_revoked',
      })
      expect(await memberIds(account)).not.toContain(user.id)
    })

    it('refuses an unknown token (404 invitation_not_found), a missing one (400) and anonymous callers (401)', async () => {
      const user = await verifiedUser()
      expect(problemOf(await accept(user.token, 'no-such-invitation-token'))).toMatchObject({
        status: 404,
        code: 'invitation_not_found',
      })
      expect(problemOf(await post('/v1/invitations/accept', {}, user.token))).toMatchObject({
        status: 400,
        code: 'validation_failed',
      })
      expect(problemOf(await post('/v1/invitations/accept', { token: 'x' }))).toMatchObject({
        status: 401,
        code: 'unauthorized',
      })
    })

    it('concurrent accepts of one link give one membership: one 200, the others 410 invitation_used', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      await invite(t, owner.token, account, user.email)
      const token = await invitationToken(t, user.email)
      const answers = await Promise.all(Array.from({ length: 10 }, () => accept(user.token, token)))
      const statuses = answers.map((res) => res.statusCode).sort()
      expect(statuses, answers.map((res) => res.body).join('\n')).toEqual([200, ...Array(9).fill(410)])
      for (const res of answers.filter((r) => r.statusCode === 410)) {
        expect(problemOf(res).code).toBe('invitation_used')
      }
      expect(await membershipRows(account, user.id)).toBe(1)
    })

    it('answers 409 already_member to a member, on inviting and on accepting; nothing is duplicated', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      await invite(t, owner.token, account, user.email, 'admin')
      const token = await invitationToken(t, user.email)
      // They became a member meanwhile, as when an earlier accept commits between the two steps.
      await t.deps.db.execute(
        sql`insert into account_members (account_id, user_id, role) values (${account}::uuid, ${user.id}::uuid, 'member')`,
      )
      expect(problemOf(await accept(user.token, token))).toMatchObject({
        status: 409,
        code: 'already_member',
      })
      const rows = await queryRows<{ role: string }>(
        t.deps.db,
        sql`select role from account_members where account_id = ${account}::uuid and user_id = ${user.id}::uuid`,
      )
      expect(rows).toEqual([{ role: 'member' }])
      expect(
        problemOf(await inviteRaw(owner.token, account, { email: user.email, role: 'admin' })),
      ).toMatchObject({ status: 409, code: 'already_member' })
    })

    it('honours Idempotency-Key on accept: a retry replays the first answer', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      await invite(t, owner.token, account, user.email)
      const token = await invitationToken(t, user.email)
      const first = await accept(user.token, token, { 'idempotency-key': 'accept-1' })
      const retry = await accept(user.token, token, { 'idempotency-key': 'accept-1' })
      expect(first.statusCode, first.body).toBe(200)
      expect(retry.statusCode).toBe(200)
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect(retry.json()).toEqual(first.json())
      expect(await membershipRows(account, user.id)).toBe(1)
    })
  })

  describe('inviting', () => {
    it('lets only an owner invite an owner; an admin gets 403 but may invite members and admins', async () => {
      const account = await newAccount()
      const admin = await verifiedUser()
      await addMember(t, owner.token, account, admin, 'admin')
      const candidate = uniqueEmail('candidate')
      const byAdmin = await inviteRaw(admin.token, account, { email: candidate, role: 'owner' })
      expect(problemOf(byAdmin)).toMatchObject({ status: 403, code: 'forbidden' })
      expect((await list(owner.token, account, '?status=pending')).json().data).toEqual([])

      expect((await inviteRaw(admin.token, account, { email: candidate, role: 'admin' })).statusCode).toBe(
        202,
      )
      expect(
        (await inviteRaw(owner.token, account, { email: uniqueEmail(), role: 'owner' })).statusCode,
      ).toBe(202)
      // And an owner invitation is revoked by an owner only.
      const ownerInvitation = (await list(owner.token, account, '?status=pending'))
        .json()
        .data.find((i: { role: string }) => i.role === 'owner')
      expect(problemOf(await revoke(admin.token, account, ownerInvitation.id))).toMatchObject({
        status: 403,
        code: 'forbidden',
      })
      // Nor can an admin re-invite that address as a member: it would downgrade the owner's
      // invitation and void its link, a revocation by another name.
      const reinvite = await inviteRaw(admin.token, account, { email: ownerInvitation.email, role: 'member' })
      expect(problemOf(reinvite)).toMatchObject({ status: 403, code: 'forbidden' })
      const still = (await list(owner.token, account, '?status=pending'))
        .json()
        .data.find((i: { id: string }) => i.id === ownerInvitation.id)
      expect(still).toMatchObject({ role: 'owner', updated_at: ownerInvitation.updated_at })
    })

    it('refuses a plain member: 403 to invite, list and revoke', async () => {
      const account = await newAccount()
      const member = await verifiedUser()
      await addMember(t, owner.token, account, member)
      const { id } = await invite(t, owner.token, account, uniqueEmail())
      for (const res of [
        await inviteRaw(member.token, account, { email: uniqueEmail(), role: 'member' }),
        await list(member.token, account),
        await revoke(member.token, account, id),
      ]) {
        expect(problemOf(res)).toMatchObject({ status: 403, code: 'forbidden' })
      }
    })

    it('answers 404 to a non-member for every invitation route, and sends nothing', async () => {
      const account = await newAccount()
      const stranger = await verifiedUser()
      const { id } = await invite(t, owner.token, account, uniqueEmail())
      const target = uniqueEmail('target')
      for (const res of [
        await inviteRaw(stranger.token, account, { email: target, role: 'member' }),
        await list(stranger.token, account),
        await revoke(stranger.token, account, id),
      ]) {
        expect(problemOf(res)).toMatchObject({ status: 404, code: 'not_found' })
      }
      await expect(lastMailTo(t, target, /invited/)).rejects.toThrow(/no mail/)
    })

    it('refuses a bad email or role with 400 validation_failed', async () => {
      const account = await newAccount()
      for (const payload of [{ email: 'not-an-email' }, { email: uniqueEmail(), role: 'king' }, {}]) {
        expect(
          problemOf(await inviteRaw(owner.token, account, payload)),
          JSON.stringify(payload),
        ).toMatchObject({
          status: 400,
          code: 'validation_failed',
        })
      }
    })

    it('re-inviting a pending address refreshes its one invitation (role, expiry, link), even under concurrency', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      const first = await invite(t, owner.token, account, user.email, 'member')
      const oldToken = await invitationToken(t, user.email)
      const later = 10 * 60_000
      t.clock.advance(later)
      try {
        const answers = await Promise.all(
          Array.from({ length: 8 }, () =>
            inviteRaw(owner.token, account, { email: user.email.toUpperCase(), role: 'admin' }),
          ),
        )
        for (const res of answers) {
          expect(res.statusCode, res.body).toBe(202)
          expect(res.json()).toMatchObject({ id: first.id, role: 'admin', status: 'pending' })
        }
        const pending = (await list(owner.token, account)).json().data
        expect(pending).toHaveLength(1)
        expect(Date.parse(pending[0].expires_at) - t.clock.now().getTime()).toBe(7 * day)

        const newToken = await invitationToken(t, user.email.toUpperCase())
        expect(problemOf(await accept(user.token, oldToken))).toMatchObject({
          status: 404,
          code: 'invitation_not_found',
        })
        const joined = await accept(user.token, newToken)
        expect(joined.statusCode, joined.body).toBe(200)
        expect(joined.json().account.role).toBe('admin')
      } finally {
        t.clock.advance(-later)
      }
      expect(await membershipRows(account, user.id)).toBe(1)
    })

    it('honours Idempotency-Key on creation: a retry replays the first answer and sends one email', async () => {
      const account = await newAccount()
      const email = uniqueEmail('idem')
      const headers = { 'idempotency-key': `invite-${email}` }
      const first = await inviteRaw(owner.token, account, { email, role: 'member' }, headers)
      const retry = await inviteRaw(owner.token, account, { email, role: 'member' }, headers)
      expect(first.statusCode, first.body).toBe(202)
      expect(retry.statusCode).toBe(202)
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect(retry.json()).toEqual(first.json())
      await lastMailTo(t, email, /invited/)
      const versions = await queryRows<{ version: number }>(
        t.deps.db,
        sql`select version from invitations where id = ${first.json().id}::uuid`,
      )
      expect(versions).toEqual([{ version: 1 }])
    })
  })

  describe('listing and revoking', () => {
    it('lists newest first, page by page, filtered by status; revoking stops the link and is final', async () => {
      const account = await newAccount()
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await invite(t, owner.token, account, uniqueEmail('page'))).id)
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2'
        const res = await list(owner.token, account, query)
        expect(res.statusCode, res.body).toBe(200)
        const body = res.json() as InvitationPage
        seen.push(...body.data.map((i) => i.id))
        cursor = body.next_cursor
        pages++
      } while (cursor && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toEqual([...ids].reverse())

      const [gone] = ids
      if (!gone) throw new Error('no invitation')
      expect((await revoke(owner.token, account, gone)).statusCode).toBe(204)
      expect(problemOf(await revoke(owner.token, account, gone))).toMatchObject({
        status: 409,
        code: 'conflict',
      })
      const revoked = (await list(owner.token, account, '?status=revoked')).json().data
      expect(revoked).toEqual([
        expect.objectContaining({ id: gone, status: 'revoked', revoked_at: expect.any(String) }),
      ])
      expect((await list(owner.token, account, '?status=pending')).json().data).toHaveLength(4)

      // An invitation of another account is not found through this one.
      const elsewhere = await newAccount()
      expect(problemOf(await revoke(owner.token, elsewhere, ids[1] ?? ''))).toMatchObject({
        status: 404,
        code: 'not_found',
      })
      // Site admins may read the list, not change it.
      const admin = await loginAdmin(t.app)
      expect((await list(admin, account)).statusCode).toBe(200)
      expect(problemOf(await revoke(admin, account, ids[1] ?? ''))).toMatchObject({ status: 404 })
    })

    it('audits creation, refresh, revocation and acceptance', async () => {
      const account = await newAccount()
      const user = await verifiedUser()
      const { id } = await invite(t, owner.token, account, user.email)
      await invite(t, owner.token, account, user.email, 'admin')
      const token = await invitationToken(t, user.email)
      expect((await accept(user.token, token)).statusCode).toBe(200)
      const revokedOne = await invite(t, owner.token, account, uniqueEmail())
      await revoke(owner.token, account, revokedOne.id)

      const admin = await loginAdmin(t.app)
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/audit-log?account_id=${account}&subject_type=invitation&limit=100`,
        headers: bearer(admin),
      })
      expect(res.statusCode, res.body).toBe(200)
      const entries = (res.json().data as { action: string; subject_id: string; actor_user_id: string }[])
        .map((e) => ({ action: e.action, subject_id: e.subject_id, actor_user_id: e.actor_user_id }))
        .reverse()
      expect(entries).toEqual([
        { action: 'invitation.created', subject_id: id, actor_user_id: owner.id },
        { action: 'invitation.refreshed', subject_id: id, actor_user_id: owner.id },
        { action: 'invitation.accepted', subject_id: id, actor_user_id: user.id },
        { action: 'invitation.created', subject_id: revokedOne.id, actor_user_id: owner.id },
        { action: 'invitation.revoked', subject_id: revokedOne.id, actor_user_id: owner.id },
      ])
    })

    it('the emailed link carries the token as a `token` parameter under APP_URL', async () => {
      const account = await newAccount()
      const email = uniqueEmail('link')
      await invite(t, owner.token, account, email)
      const mail = await lastMailTo(t, email, /invited/)
      const token = mailToken(mail)
      expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/)
      expect(mail.text).toContain(`http://plangate.test/accept-invitation?token=${token}`)
      expect(mail.subject).toBe('You are invited to join Salon')
    })
  })
})
