// The admin dashboard in a real browser: a site admin follows the Admin link, reads the overview's
// figures, finds an account made in the test, marks its open manual invoice paid, raises the basic
// plan's staff limit (and its price) after the confirmation, creates a site key shown once, and
// reads the other sections. Someone who is not a site admin is told the dashboard is not for them.
// Every page passes axe's serious/critical rules with no console errors, under the page CSP.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adminCredentials,
  buildTestApp,
  createAccount,
  lastMailTo,
  registerAndLogin,
  subscribe,
  type TestApp,
} from '../helpers/app.ts'
import { accessibilityViolations, chromiumPath, launchBrowser, watchPage } from '../helpers/browser.ts'
import { freePort } from '../helpers/process.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('the admin dashboard in Chromium', () => {
  let t: TestApp
  let browser: Browser
  let baseUrl: string

  beforeAll(async () => {
    const port = await freePort()
    baseUrl = `http://127.0.0.1:${port}`
    t = await buildTestApp({ APP_URL: baseUrl })
    await t.app.listen({ host: '127.0.0.1', port })
    browser = await launchBrowser(executablePath as string)
  })
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  const accessible = async (page: Page, where: string) =>
    expect(await accessibilityViolations(page), where).toEqual([])

  const signIn = async (page: Page, email: string, password: string) => {
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${baseUrl}/app`)
  }

  it('takes a site admin through accounts, invoices, plans and site keys', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Zephyr Hair Studio' })
    await subscribe(t.app, owner.token, account.id, 'basic')
    // Runs the queued jobs, so the mail page has the verification message to read.
    const verification = await lastMailTo(t, owner.email, /verify/i)

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await signIn(page, adminCredentials.email, adminCredentials.password)
    const sections = page.getByRole('navigation', { name: 'Admin' })

    // Overview: the figures with their labels.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await page.locator('.figure', { hasText: 'MRR' }).first().textContent()).toMatch(/19\.00/)
    // The same figures over the last 90 days, each chart with a text equivalent.
    const mrr = page.getByRole('img', { name: /MRR at the end of each day: 90 points/ })
    await mrr.waitFor()
    expect(await mrr.getAttribute('aria-label')).toMatch(/highest \$19\.00/)
    expect(await page.locator('.figure', { hasText: 'Active subscriptions' }).textContent()).toContain('1')
    expect(await page.locator('.figure', { hasText: 'Churn' }).textContent()).toMatch(
      /none was active 30 days ago; 0 ended since/,
    )
    await accessible(page, 'overview')

    // Accounts: found by a part of its name, then its detail page.
    await sections.getByRole('link', { name: 'Accounts' }).click()
    await page.getByLabel('Search accounts').fill('zephyr')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.getByRole('link', { name: 'Zephyr Hair Studio' }).click()
    await page.getByRole('heading', { name: 'Zephyr Hair Studio' }).waitFor()
    await page.getByRole('region', { name: 'Entitlements' }).getByText('staff').waitFor()
    await accessible(page, 'account detail')

    // Its open manual invoice, marked paid; the audit entries show it.
    const invoices = page.getByRole('region', { name: 'Invoices' })
    await invoices.getByText('open').waitFor()
    await invoices.getByRole('button', { name: /^Mark paid/ }).click()
    await page.getByText(/marked paid\./).waitFor()
    await invoices.getByText('paid', { exact: true }).waitFor()
    expect(await invoices.getByRole('button', { name: /^Mark paid/ }).count()).toBe(0)
    await page.getByRole('region', { name: 'Audit entries' }).getByText('invoice.paid').waitFor()
    await accessible(page, 'account detail after marking paid')

    // Plans: raise basic's staff limit and its price; the confirmation says what subscribers keep.
    await sections.getByRole('link', { name: 'Plans' }).click()
    await page.getByRole('button', { name: 'Edit Basic' }).click()
    await page.getByRole('heading', { name: 'Edit Basic' }).waitFor()
    await page.getByLabel('Limit of staff', { exact: true }).fill('3')
    await page.getByLabel('Price', { exact: true }).fill('24.00')
    await accessible(page, 'plan editor')
    await page.getByRole('button', { name: 'Review the changes' }).click()
    const confirmation = page.getByRole('region', { name: 'Confirm the changes to Basic' })
    await confirmation.waitFor()
    // The confirmation takes the focus to its heading.
    await expect
      .poll(() =>
        confirmation
          .getByRole('heading')
          .evaluate((element) => element === element.ownerDocument.activeElement),
      )
      .toBe(true)
    const said = await confirmation.textContent()
    expect(said).toContain('Existing subscribers keep their price and interval')
    expect(said).toMatch(/staff: 2, bookings per day: 5 → staff: 3, bookings per day: 5/)
    await accessible(page, 'plan change confirmation')
    await confirmation.getByRole('button', { name: 'Confirm: save Basic' }).click()
    await page.getByText('Basic saved.').waitFor()
    const basic = await t.app.inject({ method: 'GET', url: '/v1/plans/basic' })
    expect(basic.json()).toMatchObject({ price_cents: 2400, limits: { staff: 3, bookings_per_day: 5 } })
    await page.getByRole('cell', { name: /staff: 3/ }).waitFor()

    // A new plan with an unlimited limit and a feature flag, retired, then brought back.
    await page.getByRole('button', { name: 'New plan' }).click()
    await page.getByLabel('Code', { exact: true }).fill('team')
    await page.getByLabel('Name', { exact: true }).fill('Team')
    await page.getByLabel('Price', { exact: true }).fill('49.00')
    await page.getByRole('button', { name: 'Add a limit' }).click()
    await page.getByLabel('Key of limit 1', { exact: true }).fill('staff')
    await page.getByLabel('Limit of staff', { exact: true }).fill('10')
    await page.getByRole('button', { name: 'Add a limit' }).click()
    await page.getByLabel('Key of limit 2', { exact: true }).fill('bookings_per_day')
    await page.getByLabel('Unlimited bookings_per_day', { exact: true }).check()
    await page.getByRole('button', { name: 'Add a feature' }).click()
    await page.getByLabel('Key of feature 1', { exact: true }).fill('sms_reminders')
    await page.getByRole('button', { name: 'Create the plan' }).click()
    await page.getByText('Team created.').waitFor()
    const team = await t.app.inject({ method: 'GET', url: '/v1/plans/team' })
    expect(team.json()).toMatchObject({
      price_cents: 4900,
      limits: { staff: 10, bookings_per_day: null },
      features: { sms_reminders: true },
      is_active: true,
    })
    await page.getByRole('button', { name: 'Retire Team' }).click()
    await page.getByText(/Team is retired/).waitFor()
    expect((await t.app.inject({ method: 'GET', url: '/v1/plans/team' })).json().is_active).toBe(false)
    await page.getByRole('button', { name: 'Bring back Team' }).click()
    await page.getByText('Team is offered again.').waitFor()
    expect((await t.app.inject({ method: 'GET', url: '/v1/plans/team' })).json().is_active).toBe(true)

    // Site API keys: made with plans:write, the secret shown once, then listed.
    await sections.getByRole('link', { name: 'Site API keys' }).click()
    await page.getByLabel('Key name').fill('plan pusher')
    await page.getByRole('checkbox', { name: /plans:write/ }).check()
    await page.getByRole('button', { name: 'Create key' }).click()
    await page.getByText('Copy the key now').waitFor()
    expect(await page.locator('.secret').textContent()).toMatch(/^pgk_/)
    await page.getByRole('cell', { name: 'plan pusher', exact: true }).waitFor()
    expect(await page.getByRole('row', { name: /plan pusher/ }).textContent()).toContain('plans:write')
    await accessible(page, 'site keys')

    // The other sections read and pass the same checks.
    for (const [link, heading] of [
      ['Subscriptions', 'Subscriptions'],
      ['Stripe events', 'Stripe events'],
      ['Webhook endpoints', 'Webhook endpoints'],
      ['Jobs', 'Jobs'],
      ['Audit log', 'Audit log'],
    ] as const) {
      await sections.getByRole('link', { name: link }).click()
      await page.getByRole('heading', { name: heading, exact: true }).waitFor()
      await page.locator('main table, main .muted').first().waitFor()
      await accessible(page, link)
    }
    await sections.getByRole('link', { name: 'Mail' }).click()
    await page
      .getByRole('button', { name: `Read “${verification.subject}” to ${owner.email}` })
      .first()
      .click()
    await page.getByRole('heading', { name: verification.subject }).waitFor()
    expect(await page.locator('.mail-body').textContent()).toBe(verification.text)
    await accessible(page, 'mail')

    // At phone width the dashboard does not scroll sideways.
    await page.setViewportSize({ width: 375, height: 800 })
    const noSidewaysScroll = async (where: string) =>
      expect(
        await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
        where,
      ).toBeLessThanOrEqual(0)
    await sections.getByRole('link', { name: 'Accounts' }).click()
    await page.getByRole('link', { name: 'Zephyr Hair Studio' }).click()
    await page.getByRole('region', { name: 'Invoices' }).getByRole('table').waitFor()
    await noSidewaysScroll('account detail')
    await sections.getByRole('link', { name: 'Plans' }).click()
    await page.getByRole('button', { name: 'Edit Pro' }).click()
    await page.getByLabel('Limit of staff', { exact: true }).waitFor()
    await noSidewaysScroll('plan editor')
    await accessible(page, 'plan editor at 375 px')
    await sections.getByRole('link', { name: 'Audit log' }).click()
    await page.getByRole('table').waitFor()
    await noSidewaysScroll('audit log')
    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('tells someone who is not a site admin that the dashboard is for site admins only', async () => {
    const person = await registerAndLogin(t.app)
    const context = await browser.newContext()
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await signIn(page, person.email, person.password)
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0)
    await page.goto(`${baseUrl}/admin/plans`)
    await page.getByRole('heading', { name: 'Site admins only' }).waitFor()
    await accessible(page, 'site admins only')
    expect(problems).toEqual([])
    await context.close()
  })
})
