// Sign-in refused for too many attempts, in a real browser: the page says so and how long to wait
// (the Retry-After of the 429), also to the right password until the window has passed.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerAndLogin, type TestApp } from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('the web UI in Chromium: sign-in rate limit', () => {
  let t: TestApp
  let browser: Browser
  let baseUrl: string
  let running: BrowserApp | undefined

  beforeAll(async () => {
    running = await startBrowserApp(executablePath as string, { AUTH_RATE_LIMIT_PER_MINUTE: '3' })
    ;({ t, browser, baseUrl } = running)
  })
  afterAll(async () => {
    await running?.close()
  })

  it('tells a person who tried too often how long to wait', async () => {
    const user = await registerAndLogin(t.app)
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } })
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(user.email)
    const alert = page.getByRole('alert')
    let said = ''
    // The limit counts attempts per address; the test's own sign-in above is one of them.
    for (let attempt = 0; attempt < 5 && !/Too many/.test(said); attempt++) {
      await page.getByLabel('Password').fill(`wrong passphrase number ${attempt}`)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await alert.waitFor()
      said = (await alert.textContent()) ?? ''
    }
    expect(said).toMatch(/^Too many attempts\. Try again in \d+ seconds\.$/)
    // A refused sign-in leaves the focus on the button, where the keyboard was.
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Sign in')
    const wait = Number(/in (\d+) seconds/.exec(said)?.[1])
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(60)
    expect(await accessibilityViolations(page)).toEqual([])

    // The right password is refused as well until the window passes.
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText(/Too many attempts/).waitFor()
    expect(page.url()).toMatch(/\/sign-in/)
    expect(problems).toEqual([])
    await context.close()
  })
})
