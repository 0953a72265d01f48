// The first journey in a real browser: a newcomer signs up, follows the emailed verification link,
// signs in, creates an account and lands on it; the pages meet axe's serious/critical rules, run
// under the page CSP with no console errors, and work at phone width.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lastMailTo, mailToken, registerAndLogin, type TestApp, uniqueEmail } from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('the web UI in Chromium: sign up to a first account', () => {
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

  async function newPage(width = 1280): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width, height: 900 } })
    const page = await context.newPage()
    return { page, ...watchPage(page) }
  }

  it('signs up, verifies the address from the email, signs in and creates an account', async () => {
    const { page, problems } = await newPage()
    const email = uniqueEmail('browser')
    const password = 'a long browser passphrase 42'

    await page.goto(`${baseUrl}/`)
    await page.waitForURL(/\/sign-in/)
    expect(await accessibilityViolations(page)).toEqual([])
    await page.getByRole('link', { name: 'Create an account' }).click()
    await page.getByLabel('Your name').fill('Ann Browser')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    expect(await accessibilityViolations(page)).toEqual([])
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('heading', { name: 'Check your email' }).waitFor()

    // The link in the email is a page of the UI, and it completes the verification.
    const mail = await lastMailTo(t, email, /verify/i)
    const link = `${baseUrl}/verify-email?token=${encodeURIComponent(mailToken(mail, baseUrl))}`
    expect(mail.text).toContain(link)
    await page.goto(link)
    await page.getByText('Your email address is verified.').waitFor()

    // A `next` that a browser would read as another host (`/\evil.example`) leads to the portal instead.
    await page.goto(`${baseUrl}/sign-in?next=${encodeURIComponent('/\\evil.example/x')}`)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill('not the password at all')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').waitFor()
    expect(await page.getByRole('alert').textContent()).toMatch(/password|credentials/i)

    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(await accessibilityViolations(page)).toEqual([])
    await page.getByLabel('Business name').fill('Chic-Chic')
    await page.getByRole('button', { name: 'Create' }).click()
    await page.getByRole('heading', { name: 'Chic-Chic' }).waitFor()
    expect(page.url()).toMatch(/\/app\/accounts\/[0-9a-f-]{36}$/)

    // A reload keeps the person signed in: the access token is gone with the page, the cookie is not.
    await page.reload()
    await page.getByRole('heading', { name: 'Chic-Chic' }).waitFor()
    expect(await page.evaluate('document.cookie')).not.toContain('refresh_token')
    expect(problems).toEqual([])
  })

  it('signs in with a code from the email instead of the password; a wrong code is refused in words', async () => {
    const user = await registerAndLogin(t.app)
    const { page, problems } = await newPage(375)
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByRole('button', { name: 'Email me a sign-in code instead' }).click()
    await page.getByLabel('Email').fill(user.email)
    await page.getByRole('button', { name: 'Email me a code' }).click()
    await page.getByText(/a 6-digit code is on its way/).waitFor()
    const mail = await lastMailTo(t, user.email, /code/i)
    const code = /\b(\d{6})\b/.exec(mail.text)?.[1]
    expect(code).toMatch(/^\d{6}$/)
    // A wrong code first: refused with a sentence, the form stays.
    const wrong = code === '000000' ? '111111' : '000000'
    await page.getByLabel('Code from the email').fill(wrong)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').waitFor()
    expect(await page.getByRole('alert').textContent()).toMatch(/code/i)
    expect(await accessibilityViolations(page)).toEqual([])
    await page.getByLabel('Code from the email').fill(code as string)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(problems).toEqual([])
  })

  it('sends a signed-out visitor to sign in and back, and fits a phone', async () => {
    const { page, problems } = await newPage(375)
    await page.goto(`${baseUrl}/app/accounts/00000000-0000-0000-0000-000000000000`)
    await page.waitForURL(/\/sign-in\?next=/)
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(await accessibilityViolations(page)).toEqual([])
    expect(problems).toEqual([])
  })
})
