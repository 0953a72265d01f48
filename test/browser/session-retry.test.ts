// The session in a real browser: a refresh the API does not grant for now (429 with Retry-After)
// is not a sign-out (the page keeps the session, says it is retrying and when, and carries on
// signed in), and a signed-in person is not shown the sign-in or sign-up form.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAccount, registerAndLogin, type TestApp } from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('the web UI in Chromium: staying signed in', () => {
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

  it('keeps a person signed in through a 429 on refresh, retrying after Retry-After', async () => {
    const owner = await registerAndLogin(t.app)
    await createAccount(t.app, owner.token, { name: 'Salon Ouest' })
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page
      .getByRole('link', { name: /Salon Ouest/ })
      .first()
      .waitFor()

    // The next refresh is refused once with 429 and Retry-After: 1; the ones after it go through.
    let refused = 0
    let passed = 0
    await page.route('**/v1/auth/refresh', async (route) => {
      if (refused === 0) {
        refused += 1
        await route.fulfill({
          status: 429,
          headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
          body: JSON.stringify({
            type: 'about:blank',
            title: 'Too Many Requests',
            status: 429,
            code: 'rate_limited',
          }),
        })
        return
      }
      passed += 1
      await route.continue()
    })
    const visited: string[] = []
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) visited.push(new URL(frame.url()).pathname)
    })

    await page.reload()
    await page.getByText(/^Too many requests: retrying (in \d+ s|now)\.$/).waitFor()
    expect(await accessibilityViolations(page)).toEqual([])
    await page
      .getByRole('link', { name: /Salon Ouest/ })
      .first()
      .waitFor()
    expect(refused).toBe(1)
    expect(passed).toBe(1)
    expect(visited.filter((path) => path.startsWith('/sign-in'))).toEqual([])
    expect(await page.getByLabel('Password').count()).toBe(0)
    expect(await page.evaluate("localStorage.getItem('plangate.signed-in')")).toBe('1')
    expect(await page.getByText(/Too many requests/).count()).toBe(0)
    expect(problems).toEqual([])
    await context.close()
  })

  it('sends a signed-in person from the sign-in and sign-up pages on to next, or the portal', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Salon Est' })
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(owner.email)
    await page.getByLabel('Password').fill(owner.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()

    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent(`/app/accounts/${account.id}/staff`)}`)
    await page.getByRole('heading', { name: 'Salon Est' }).waitFor()
    expect(new URL(page.url()).pathname).toBe(`/app/accounts/${account.id}/staff`)
    await page.goto(`${baseUrl}/sign-up`)
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/app')
    expect(problems).toEqual([])
    await context.close()
  })
})
