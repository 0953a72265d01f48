// The customer portal in a real browser: an owner subscribes to basic, adds staff until the third
// is refused with the reason, fills the day's bookings, previews and takes the upgrade to pro,
// sees the new limits, cancels and resumes, reads those changes in the subscription history, and
// downgrades over a limit after a preview that says so. Every page passes axe's serious/critical
// rules, with no console errors, under the page CSP.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createAccount,
  lastMailTo,
  loginAdmin,
  mailToken,
  registerAndLogin,
  subscribe,
  type TestApp,
  uniqueCode,
} from '../helpers/app.ts'
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

describe.skipIf(!executablePath)('the customer portal in Chromium', () => {
  let t: TestApp
  let browser: Browser
  let baseUrl: string
  let running: BrowserApp | undefined

  beforeAll(async () => {
    running = await startBrowserApp(executablePath as string)
    ;({ t, browser, baseUrl } = running)
  })
  afterAll(async () => {
    await running?.close()
  })

  const accessible = async (page: Page, where: string) =>
    expect(await accessibilityViolations(page), where).toEqual([])

  it('subscribes, meets the limits in words, upgrades after a preview, cancels and resumes', async () => {
    // The journey books for today and reads today's meters: it must not straddle midnight.
    await awayFromMidnight(180_000)
    const owner = await registerAndLogin(t.app)
    const token = mailToken(await lastMailTo(t, owner.email, /verify/i), baseUrl)
    const verified = await t.app.inject({ method: 'POST', url: '/v1/auth/email/verify', payload: { token } })
    expect(verified.statusCode, verified.body).toBe(200)
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)

    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByLabel('Business name').fill('Chic-Chic')
    // The browser runs in UTC: the time zone offered is UTC (not the list's first entry).
    expect(await page.getByLabel('Time zone').inputValue()).toBe('UTC')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('heading', { name: 'Chic-Chic' }).waitFor()
    await page.getByText('No plan yet.').waitFor()
    // Without a plan the chart does not claim a daily limit of 0 reached every day.
    const emptyChart = page.getByRole('img', { name: /Bookings per day against the daily limit: 30 points/ })
    await emptyChart.waitFor()
    expect(await emptyChart.getAttribute('aria-label')).toMatch(
      /; no bookings in these 30 days; no plan that allows bookings, so no daily limit\.$/,
    )
    await accessible(page, 'overview without a plan')

    // Subscribe to basic, after its preview.
    await page.getByRole('link', { name: 'Plan & billing' }).click()
    await page.getByRole('button', { name: 'Choose Basic' }).click()
    await page.getByRole('heading', { name: 'Subscribe to Basic' }).waitFor()
    await accessible(page, 'plan page with a preview')
    await page.getByRole('button', { name: 'Confirm: subscribe to Basic' }).click()
    await page.getByText('You are on Basic now.').waitFor()
    await page.getByRole('heading', { name: /Plan: basic/ }).waitFor()
    // The invoice of the subscription shows up without reloading the page.
    const invoices = page.getByRole('region', { name: 'Invoices' })
    await invoices.locator('tbody tr').first().waitFor()
    expect(await invoices.locator('tbody tr').count()).toBe(1)
    expect(await invoices.getByText('No invoices yet.').count()).toBe(0)

    // Staff: two fit, the third is refused with the reason and a way to upgrade.
    await page.getByRole('link', { name: 'Staff' }).click()
    for (const name of ['Ann', 'Bob', 'Cleo']) {
      await page.getByLabel('Name').fill(name)
      await page.getByRole('button', { name: 'Add staff member' }).click()
      if (name !== 'Cleo') await page.getByRole('button', { name: `Remove ${name}` }).waitFor()
      // The keyboard's place survives the action: still on the button (never the page's body).
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Add staff member')
    }
    const refusal = page.getByRole('alert')
    await refusal.waitFor()
    expect(await refusal.textContent()).toContain('Your plan allows 2 staff members')
    await refusal.getByRole('link', { name: 'Upgrade your plan' }).waitFor()
    await page.locator('.meter-figure', { hasText: '2 of 2 staff members' }).waitFor()
    await accessible(page, 'staff page with a refusal')

    // Bookings fill the day's meter; the sixth is refused.
    await page.getByRole('link', { name: 'Bookings' }).click()
    for (let i = 0; i < 6; i++) {
      await page.getByLabel('Customer').fill(`Customer ${i}`)
      await page.getByLabel('Time').fill(`1${i}:00`)
      await page.getByRole('button', { name: 'Add booking' }).click()
      if (i < 5) await page.locator('.meter-figure', { hasText: `${i + 1} of 5 bookings` }).waitFor()
    }
    await page.getByRole('alert').waitFor()
    expect(await page.getByRole('alert').textContent()).toContain('5 bookings a day')
    await accessible(page, 'bookings page')

    // Preview the upgrade to pro: the price difference and what is due, then take it.
    await page.getByRole('link', { name: 'Plan & billing' }).click()
    await page.getByRole('button', { name: 'Preview a change to Pro' }).click()
    await page.getByRole('heading', { name: 'Upgrade to Pro' }).waitFor()
    expect(await page.getByRole('region', { name: 'Upgrade to Pro' }).textContent()).toMatch(
      /Price difference\+/,
    )
    await page.getByRole('button', { name: 'Confirm: upgrade to Pro' }).click()
    await page.getByText('You are on Pro now.').waitFor()

    // The meters show pro's limits.
    await page.getByRole('link', { name: 'Overview' }).click()
    await page.locator('.meter-figure', { hasText: '2 of 5 staff members' }).waitFor()
    await page.locator('.meter-figure', { hasText: '5 of 20 bookings' }).waitFor()
    // The last 30 days of bookings against the daily limit, with its figures as text.
    const chart = page.getByRole('img', { name: /Bookings per day against the daily limit: 30 points/ })
    await chart.waitFor()
    expect(await chart.getAttribute('aria-label')).toMatch(/highest 5 bookings .*daily limit 20/)
    // The axis labels are HTML under the stretched SVG, not SVG text distorted with it.
    expect(await chart.locator('text').count()).toBe(0)
    expect(await page.locator('.chart-axis span').allTextContents()).toHaveLength(3)
    await accessible(page, 'overview on pro')

    // Cancel at the period end, then resume.
    await page.getByRole('link', { name: 'Plan & billing' }).click()
    await page.getByRole('button', { name: 'Cancel at the end of the period' }).click()
    await page.getByText(/Canceled: access continues/).waitFor()
    await page.getByRole('button', { name: 'Resume the subscription' }).click()
    await page.getByText(/Resumed: the plan renews/).waitFor()
    await page.getByRole('table').first().waitFor()
    // The history says each change in words, newest first, and who made it.
    const history = page.getByRole('table', { name: 'Changes to the subscription, newest first' })
    await history.getByRole('cell', { name: 'Resumed: the cancellation is withdrawn' }).waitFor()
    const rows = history.locator('tbody tr')
    expect(await rows.count()).toBe(4)
    expect(await rows.locator('td:nth-child(2)').allTextContents()).toEqual([
      'Resumed: the cancellation is withdrawn',
      'Cancellation scheduled for the end of the period',
      expect.stringMatching(/^Upgraded from Basic to Pro/),
      'Subscribed to Basic',
    ])
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual([
      'canceled → active',
      'active → canceled',
      'active',
      'active',
    ])
    expect(new Set(await rows.locator('td:nth-child(4)').allTextContents())).toEqual(new Set([owner.email]))
    // The price paid after each change: basic's, then pro's from the upgrade on.
    const perMonth = async (cents: number) =>
      `${await page.evaluate(
        (amount) => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' }).format(amount),
        cents / 100,
      )} a month`
    expect(await rows.locator('td:nth-child(5)').allTextContents()).toEqual([
      await perMonth(4900),
      await perMonth(4900),
      await perMonth(4900),
      await perMonth(1900),
    ])
    await accessible(page, 'plan page with invoices and the history')

    // Team and keys pages read and pass the same checks.
    await page.getByRole('link', { name: 'Team' }).click()
    await page.getByRole('heading', { name: 'Team' }).waitFor()
    await accessible(page, 'team page')
    await page.getByRole('link', { name: 'API keys' }).click()
    await page.getByLabel('Key name').fill('backend')
    await page.getByRole('button', { name: 'Create key' }).click()
    await page.getByText('Copy the key now').waitFor()
    expect(await page.locator('.secret').textContent()).toMatch(/^pgk_/)
    await accessible(page, 'keys page')

    // A third staff member fits pro; the downgrade back to basic is previewed with the limit it
    // would leave the account over, and after it the overview says so plainly.
    await page.getByRole('link', { name: 'Staff' }).click()
    await page.getByLabel('Name').fill('Cleo')
    await page.getByRole('button', { name: 'Add staff member' }).click()
    await page.getByRole('button', { name: 'Remove Cleo' }).waitFor()
    await page.getByRole('link', { name: 'Plan & billing' }).click()
    await page.getByRole('button', { name: 'Preview a change to Basic' }).click()
    const downgrade = page.getByRole('region', { name: 'Downgrade to Basic' })
    await downgrade.waitFor()
    expect(await downgrade.textContent()).toMatch(/over its limits: staff 3 of 2/)
    await accessible(page, 'downgrade preview over a limit')
    await downgrade.getByRole('button', { name: 'Confirm: downgrade to Basic' }).click()
    await page.getByText('You are on Basic now.').waitFor()
    await page.getByRole('link', { name: 'Overview' }).click()
    await page.locator('.meter-figure', { hasText: '3 of 2 staff members' }).waitFor()
    await page.getByText('Over the limit of your plan by 1').waitFor()
    await accessible(page, 'overview over a limit')
    expect(problems).toEqual([])
  }, 300_000)

  it('previews a plan with a trial as free until the trial ends, and confirming starts the trial', async () => {
    const admin = await loginAdmin(t.app)
    const code = uniqueCode('trial')
    await expectData(
      testClient(t.app, admin).POST('/v1/plans', {
        body: {
          code,
          name: 'Trial Salon',
          price_cents: 2900,
          trial_days: 14,
          tier: 5,
          limits: { staff: 3, bookings_per_day: 10 },
        },
      }),
      201,
    )
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Salon Essai', timezone: 'Europe/Paris' })
    const expected = await expectData(
      testClient(t.app, owner.token).GET('/v1/accounts/{accountId}/subscription/preview', {
        params: { path: { accountId: account.id }, query: { plan: code } },
      }),
    )
    expect(expected.trial_end).not.toBeNull()
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(`/app/accounts/${account.id}/plan`)}`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    // The app shell starts with a way past its navigation.
    const skip = page.getByRole('button', { name: 'Skip to content' })
    await page.getByRole('button', { name: 'Choose Trial Salon' }).waitFor()
    expect(
      await page.evaluate(
        `document.querySelector('.shell').querySelector('a[href], button, input, select, textarea') === document.querySelector('.skip-link')`,
      ),
    ).toBe(true)
    await skip.focus()
    await page.keyboard.press('Enter')
    expect(await page.evaluate(`document.activeElement === document.querySelector('main')`)).toBe(true)
    const choose = page.getByRole('button', { name: 'Choose Trial Salon' })
    const focused = (locator: typeof choose) =>
      locator.evaluate((element) => element === element.ownerDocument.activeElement)
    // The preview takes the focus to its heading; "Not now" gives it back to the button that opened it.
    await choose.click()
    const preview = page.locator('section.preview')
    await preview.waitFor()
    await expect.poll(() => focused(preview.getByRole('heading'))).toBe(true)
    await preview.getByRole('button', { name: 'Not now' }).click()
    await preview.waitFor({ state: 'detached' })
    await expect.poll(() => focused(choose)).toBe(true)
    await page.keyboard.press('Enter')
    await preview.waitFor()
    await expect.poll(() => focused(preview.getByRole('heading'))).toBe(true)
    const trialEnd = await page.evaluate(
      (iso) =>
        new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'Europe/Paris' }).format(
          new Date(iso),
        ),
      expected.trial_end as string,
    )
    const price = await page.evaluate(() =>
      new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' }).format(29),
    )
    const said = (await preview.textContent()) ?? ''
    expect(said).toContain(`Free trial until ${trialEnd}; then ${price} per period`)
    expect(said).not.toContain('Due now')
    await accessible(page, 'preview of a plan with a trial')
    await preview.getByRole('button', { name: /^Confirm/ }).click()
    await page
      .getByRole('heading', { name: /^Plan: / })
      .getByText('trialing')
      .waitFor()
    // The chosen plan's button is gone with the change: the focus is on the plans' heading, not lost.
    await expect.poll(() => page.evaluate('document.activeElement.id')).toBe('plans')
    expect(problems).toEqual([])
    await context.close()
  })

  it('says what a failed manual payment means, and names no one for a site admin who recorded it', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Salon Retard', timezone: 'UTC' })
    await subscribe(t.app, owner.token, account.id, 'basic')
    const { data: invoices } = await expectData(
      testClient(t.app, owner.token).GET('/v1/accounts/{accountId}/invoices', {
        params: { path: { accountId: account.id } },
      }),
    )
    const admin = testClient(t.app, await loginAdmin(t.app))
    await expectData(
      admin.POST('/v1/admin/invoices/{id}/mark-failed', {
        params: { path: { id: invoices[0]?.id as string } },
      }),
    )
    const subscription = await expectData(
      testClient(t.app, owner.token).GET('/v1/accounts/{accountId}/subscription', {
        params: { path: { accountId: account.id } },
      }),
    )
    expect(subscription.status).toBe('past_due')
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(`/app/accounts/${account.id}/plan`)}`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    const grace = await page.evaluate(
      (iso) =>
        new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso)),
      subscription.grace_until as string,
    )
    const notice = page.getByText(/^A payment failed\. Access continues until/)
    await notice.waitFor()
    expect(await notice.textContent()).toBe(
      `A payment failed. Access continues until ${grace}; once the payment is made the plan is active again.`,
    )
    // The failure was recorded by a site admin, who is not a member of the account.
    const history = page.getByRole('table', { name: 'Changes to the subscription, newest first' })
    await history.getByRole('cell', { name: 'Subscribed to Basic' }).waitFor()
    expect(await history.locator('tbody tr').first().locator('td:nth-child(4)').textContent()).toBe(
      'Not a member (a site admin or a former member)',
    )
    await accessible(page, 'plan page past due')
    expect(problems).toEqual([])
    await context.close()
  })

  it('switches between the accounts of one person from the top bar, by pointer and keyboard, at phone width', async () => {
    const owner = await registerAndLogin(t.app)
    const salon = await createAccount(t.app, owner.token, { name: 'Salon Nord' })
    const spa = await createAccount(t.app, owner.token, { name: 'Spa Sud' })
    await subscribe(t.app, owner.token, salon.id, 'basic')
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    const fits = async (where: string) =>
      expect(
        await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'),
        where,
      ).toBeLessThanOrEqual(0)

    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(`/app/accounts/${salon.id}/staff`)}`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Salon Nord' }).waitFor()

    // The switcher names the account on screen; open, it lists both and the way to a new one.
    const switcher = page.getByRole('button', { name: 'Switch account, now in Salon Nord' })
    expect(await switcher.getAttribute('aria-expanded')).toBe('false')
    await switcher.click()
    expect(await switcher.getAttribute('aria-expanded')).toBe('true')
    const menu = page.getByRole('list', { name: 'Your accounts' })
    expect(await menu.getByRole('link').allTextContents()).toEqual(['Salon Nord · owner', 'Spa Sud · owner'])
    expect(await menu.getByRole('link', { name: /Salon Nord/ }).getAttribute('aria-current')).toBe('page')
    await page.getByRole('link', { name: 'New account' }).waitFor()
    await fits('switcher open at 375 px')
    await accessible(page, 'switcher open')

    // Choosing the other account keeps the section.
    await menu.getByRole('link', { name: /Spa Sud/ }).click()
    await page.getByRole('heading', { name: 'Spa Sud' }).waitFor()
    expect(new URL(page.url()).pathname).toBe(`/app/accounts/${spa.id}/staff`)
    const back = page.getByRole('button', { name: 'Switch account, now in Spa Sud' })
    expect(await back.getAttribute('aria-expanded')).toBe('false')

    // From the keyboard: Enter opens, Escape closes and returns to the button, Tab reaches the links.
    await back.focus()
    await page.keyboard.press('Enter')
    expect(await back.getAttribute('aria-expanded')).toBe('true')
    await page.keyboard.press('Escape')
    expect(await back.getAttribute('aria-expanded')).toBe('false')
    expect(await back.evaluate((element) => element === element.ownerDocument.activeElement)).toBe(true)
    await page.keyboard.press('Enter')
    await page.keyboard.press('Tab')
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Salon Nord · owner')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Salon Nord' }).waitFor()
    expect(new URL(page.url()).pathname).toBe(`/app/accounts/${salon.id}/staff`)

    // The plan page with its history fits the phone too.
    await page.getByRole('link', { name: 'Plan & billing' }).click()
    await page
      .getByRole('table', { name: 'Changes to the subscription, newest first' })
      .getByRole('cell', { name: 'Subscribed to Basic' })
      .waitFor()
    await fits('plan page with the history at 375 px')
    await accessible(page, 'plan page at 375 px')

    // "New account" leads to the form; the new account joins the list.
    await page.getByRole('button', { name: 'Switch account, now in Salon Nord' }).click()
    await page.getByRole('link', { name: 'New account' }).click()
    await page.waitForURL(`${baseUrl}/app?new=1`)
    const formHeading = page.getByRole('heading', { name: 'Create an account' })
    await expect
      .poll(() => formHeading.evaluate((element) => element === element.ownerDocument.activeElement))
      .toBe(true)
    await page.getByLabel('Business name').fill('Barber Est')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('heading', { name: 'Barber Est' }).waitFor()
    await page.getByRole('button', { name: 'Switch account, now in Barber Est' }).click()
    expect(await page.getByRole('list', { name: 'Your accounts' }).getByRole('link').count()).toBe(3)
    await fits('three accounts at 375 px')
    await accessible(page, 'switcher with three accounts')
    expect(problems).toEqual([])
  })
})
