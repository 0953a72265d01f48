// One account in the admin dashboard, in a real browser: beside its subscription and entitlements,
// its usage (the staff count and a chart of the last 30 days of bookings against the daily limit,
// with its figures as text) and its subscription history in words. The page passes axe's
// serious/critical rules with no console errors, under the page CSP.
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminCredentials, createAccount, registerAndLogin, subscribe, type TestApp } from '../helpers/app.ts'
import {
  accessibilityViolations,
  awayFromMidnight,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'
import { expectData, testClient } from '../helpers/client.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)("an account's usage and subscription history in the admin dashboard", () => {
  let t: TestApp
  let running: BrowserApp | undefined

  beforeAll(async () => {
    running = await startBrowserApp(executablePath as string)
    t = running.t
  })
  afterAll(async () => {
    await running?.close()
  })

  const accessible = async (page: Page, where: string) =>
    expect(await accessibilityViolations(page), where).toEqual([])

  it('shows the staff count, 30 days of bookings and the transitions of basic → pro → canceling', async () => {
    const { browser, baseUrl } = running as BrowserApp
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Atelier Lune', timezone: 'UTC' })
    const path = { params: { path: { accountId: account.id } } }
    const client = testClient(t.app, owner.token)
    await subscribe(t.app, owner.token, account.id, 'basic')
    for (const name of ['Ann', 'Bob']) {
      await expectData(client.POST('/v1/accounts/{accountId}/staff', { ...path, body: { name } }), 201)
    }
    // The chart's last day is the browser's today: the run must not straddle midnight.
    await awayFromMidnight(120_000)
    const today = new Date().toISOString().slice(0, 10)
    for (const hour of [10, 11, 12]) {
      await expectData(
        client.POST('/v1/accounts/{accountId}/bookings', {
          ...path,
          body: { customer_name: `Client ${hour}`, starts_at: `${today}T${hour}:00:00.000Z` },
        }),
        201,
      )
    }
    await expectData(
      client.PATCH('/v1/accounts/{accountId}/subscription', { ...path, body: { plan: 'pro', when: 'now' } }),
      200,
    )
    await expectData(
      client.POST('/v1/accounts/{accountId}/subscription/cancel', { ...path, body: { at_period_end: true } }),
      200,
    )

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(`/admin/accounts/${account.id}`)}`)
    await page.getByLabel('Email').fill(adminCredentials.email)
    await page.getByLabel('Password').fill(adminCredentials.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Atelier Lune', level: 2 }).waitFor()

    // Usage: the staff count from the entitlements, and the bookings chart with its text equivalent.
    const usage = page.getByRole('region', { name: 'Usage' })
    await usage.waitFor()
    expect(await usage.locator('dl.facts').textContent()).toBe('Staff2 of 5 staff members')
    const chart = usage.getByRole('img', { name: /Bookings per day against the daily limit: 30 points/ })
    await chart.waitFor()
    expect(await chart.getAttribute('aria-label')).toMatch(
      new RegExp(`to ${today}; highest 3 bookings on ${today}; daily limit 20, reached on 0 of them\\.$`),
    )
    await usage.getByText('Show the figures').click()
    await usage.getByRole('cell', { name: today }).waitFor()

    // The subscription history in words, newest first, naming the owner who made each change.
    const history = page.getByRole('table', { name: 'Changes to the subscription, newest first' })
    await history.getByRole('cell', { name: 'Subscribed to Basic' }).waitFor()
    const rows = history.locator('tbody tr')
    expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual([
      'Cancellation scheduled for the end of the period',
      expect.stringMatching(/^Upgraded from Basic to Pro/),
      'Subscribed to Basic',
    ])
    expect(new Set(await rows.locator('td:nth-child(4)').allTextContents())).toEqual(new Set([owner.email]))
    await accessible(page, 'admin account page with usage and history')
    expect(problems).toEqual([])
  }, 240_000)
})
