// Helpers for the billing tests: plans made by the site admin, and a customer (owner + account)
// whose requests keep a valid token while the test clock moves.
import { eq, sql } from 'drizzle-orm'
import { listMailFolder, mailFolderDir } from '../../src/modules/mail/folder.ts'
import { subscriptionEvents, subscriptions } from '../../src/modules/subscriptions/tables.ts'
import { events } from '../../src/modules/webhooks/tables.ts'
import {
  bearer,
  createAccount,
  login,
  loginAdmin,
  registerAndLogin,
  type TestApp,
  type TestUser,
  uniqueCode,
} from './app.ts'
import { expectData, type paths, testClient } from './client.ts'

type CreatePlanBody = paths['/v1/plans']['post']['requestBody']['content']['application/json']

/** A new monthly usd plan (2000 cents, tier 1, 1 staff, 5 bookings a day unless overridden); returns its code. */
export async function createPlan(t: TestApp, overrides: Partial<CreatePlanBody> = {}): Promise<string> {
  const code = uniqueCode()
  const admin = testClient(t.app, await loginAdmin(t.app))
  const body: CreatePlanBody = {
    code,
    name: `Plan ${code}`,
    price_cents: 2000,
    currency: 'usd',
    interval: 'month',
    tier: 1,
    limits: { staff: 1, bookings_per_day: 5 },
    ...overrides,
  }
  await expectData(admin.POST('/v1/plans', { body }), 201)
  return code
}

/** An owner (new, or the one given) with a new account, and the requests the billing tests make. */
export async function billingCustomer(t: TestApp, owner?: TestUser) {
  const user = owner ?? (await registerAndLogin(t.app))
  const account = await createAccount(t.app, user.token)
  const url = `/v1/accounts/${account.id}`
  const headers = () => bearer(user.token)
  // A client per call: `at()` replaces the token as the clock moves.
  const client = () => testClient(t.app, user.token)
  const path = { accountId: account.id }
  const send = (method: 'GET' | 'POST' | 'PATCH', path: string, payload?: Record<string, unknown>) =>
    t.app.inject({ method, url: `${url}${path}`, headers: headers(), ...(payload && { payload }) })
  return {
    user,
    account,
    /** Moves the clock and signs in again (access tokens expire with clock time). */
    async at(instant: Date) {
      t.clock.set(instant)
      user.token = (await login(t.app, user.email, user.password)).token
    },
    subscribe: (plan: string) => send('POST', '/subscription', { plan }),
    change: (plan: string, when: 'now' | 'period_end' = 'now') =>
      send('PATCH', '/subscription', { plan, when }),
    cancel: (atPeriodEnd: boolean) => send('POST', '/subscription/cancel', { at_period_end: atPeriodEnd }),
    resume: () => send('POST', '/subscription/resume'),
    preview: (plan: string) => send('GET', `/subscription/preview?plan=${plan}`),
    addStaff: (name: string) => send('POST', '/staff', { name }),
    get: () => expectData(client().GET('/v1/accounts/{accountId}/subscription', { params: { path } }), 200),
    entitlements: () =>
      expectData(client().GET('/v1/accounts/{accountId}/entitlements', { params: { path } }), 200),
    invoices: async () =>
      (await expectData(client().GET('/v1/accounts/{accountId}/invoices', { params: { path } }), 200)).data,
    /** The account's latest subscription row. */
    async row() {
      const [row] = await t.deps.db
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.accountId, account.id))
        .orderBy(sql`${subscriptions.id} desc`)
        .limit(1)
      if (!row) throw new Error('no subscription')
      return row
    },
    /** The types of the account's subscription history, oldest first. */
    history: async () =>
      (
        await t.deps.db
          .select({ type: subscriptionEvents.type })
          .from(subscriptionEvents)
          .where(eq(subscriptionEvents.accountId, account.id))
          .orderBy(subscriptionEvents.id)
      ).map((row) => row.type),
    /** The types of the account's outgoing events, oldest first. */
    events: async () =>
      (
        await t.deps.db
          .select({ type: events.type })
          .from(events)
          .where(eq(events.accountId, account.id))
          .orderBy(events.id)
      ).map((row) => row.type),
    /** Subjects of the mail sent to the owner (run the jobs first). */
    mail: async () =>
      (await listMailFolder(mailFolderDir(t.deps.config), { limit: 100 })).data
        .filter((message) => message.to === user.email)
        .map((message) => message.subject),
  }
}

export type BillingCustomer = Awaited<ReturnType<typeof billingCustomer>>
