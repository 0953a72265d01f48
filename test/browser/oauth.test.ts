// "Continue with Google" in a real browser, against the local fake provider: the sign-in page
// shows the buttons the service offers, the provider sends the browser back, and the page turns
// the refresh cookie into a session and goes where the person was headed; a refusal is said in words.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.ts'
import { type BrowserApp, chromiumPath, startBrowserApp, watchPage } from '../helpers/browser.ts'
import { type FakeOAuth, type GoogleUser, startFakeOAuth } from '../helpers/fake-oauth.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('signing in with an OAuth provider in Chromium', () => {
  let t: TestApp
  let browser: Browser
  let baseUrl: string
  let fake: FakeOAuth
  let running: BrowserApp | undefined

  beforeAll(async () => {
    fake = await startFakeOAuth()
    running = await startBrowserApp(executablePath as string, fake.env)
    ;({ t, browser, baseUrl } = running)
  })
  afterAll(async () => {
    await running?.close()
    await fake?.close()
  })

  /**
   * The person at the provider: consents as `user`, or declines when there is none. The browser's
   * trip to the provider is played by the fake (a redirect cannot be intercepted on its own): the
   * service's start answer goes to the browser as it is (its flow cookie included), pointing at
   * the callback the provider would send the browser to.
   */
  async function atProvider(page: Page, user: GoogleUser | null) {
    await page.route('**/v1/auth/oauth/*/start?*', async (route) => {
      const response = await route.fetch({ maxRedirects: 0 })
      const authorizationUrl = response.headers().location ?? ''
      expect(authorizationUrl.startsWith(fake.url)).toBe(true)
      const callback = user
        ? await fake.authorize(authorizationUrl, { user })
        : await fake.deny(authorizationUrl)
      await route.fulfill({ response, headers: { ...response.headers(), location: callback } })
    })
  }

  it('signs a new person in with Google and lands where they were going', async () => {
    const page = await (await browser.newContext()).newPage()
    const { problems } = watchPage(page)
    const user: GoogleUser = {
      sub: `g-${Date.now()}`,
      email: `g${Date.now()}@example.com`,
      email_verified: true,
      name: 'Gia',
    }
    await atProvider(page, user)
    await page.goto(`${baseUrl}/app`)
    await page.waitForURL(/\/sign-in\?next=/)
    await page.getByRole('link', { name: 'Continue with Google' }).click()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/app')
    // The session is a real one: a reload keeps it.
    await page.reload()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(problems).toEqual([])
    expect(t).toBeDefined()
  })

  it('says so when the person declines at the provider', async () => {
    const page = await (await browser.newContext()).newPage()
    await atProvider(page, null)
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByRole('link', { name: 'Continue with Google' }).click()
    await page.getByRole('alert').waitFor()
    expect(await page.getByRole('alert').textContent()).toMatch(/provider|refused/i)
    expect(new URL(page.url()).pathname).toBe('/sign-in')
  })
})
