// Links from emails that no longer work, in a real browser: a password-reset link used a second
// time, and a verification link that expired or was used, each say so and lead to a new link that
// works (a new message in the outbox, with a new token). Every page passes axe's serious/critical
// rules with no console errors, under the page CSP.
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { lastMailTo, mailToken, registerAndLogin, type TestApp } from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('expired and used email links in Chromium', () => {
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

  async function newPage(width = 1280) {
    const context = await browser.newContext({ viewport: { width, height: 900 } })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    return { page, ...watchPage(page) }
  }

  /** The token of the newest mail to `email` matching `subject`, which must not be `previous`. */
  async function newToken(email: string, subject: RegExp, previous: string): Promise<string> {
    const token = mailToken(await lastMailTo(t, email, subject), baseUrl)
    expect(token, 'a new message with a new link').not.toBe(previous)
    return token
  }

  const askForResetLink = async (page: Page, email: string) => {
    await page.getByLabel('Email').fill(email)
    await page.getByRole('button', { name: 'Email me a link' }).click()
    await page.getByText(/a link to choose a new password is on its way\. It works once, for 30/).waitFor()
  }

  const choosePassword = async (page: Page, password: string) => {
    await page.getByLabel('New password').fill(password)
    await page.getByRole('button', { name: 'Save the new password' }).click()
  }

  it('a reset link used twice says so, and the new link it leads to resets the password', async () => {
    const user = await registerAndLogin(t.app)
    const { page, problems } = await newPage()

    await page.goto(`${baseUrl}/forgot-password`)
    await askForResetLink(page, user.email)
    const first = mailToken(await lastMailTo(t, user.email, /reset your password/i), baseUrl)
    const firstLink = `${baseUrl}/reset-password?token=${encodeURIComponent(first)}`
    await page.goto(firstLink)
    await choosePassword(page, 'first new passphrase for the salon')
    await page.getByText('Your password is changed. Sign in with the new one.').waitFor()

    // The same link again: refused in words, without a form, with the way to a new one.
    await page.goto(firstLink)
    await choosePassword(page, 'second new passphrase for the salon')
    await page.getByRole('alert').getByText('This link has expired or was already used.').waitFor()
    expect(await page.getByLabel('New password').count()).toBe(0)
    await accessible(page, 'a used reset link')
    await page.getByRole('link', { name: 'Ask for a new link' }).click()
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor()
    t.clock.advance(60_000)
    await askForResetLink(page, user.email)

    // The new mail's link resets the password, and the new password signs in.
    const second = await newToken(user.email, /reset your password/i, first)
    await page.goto(`${baseUrl}/reset-password?token=${encodeURIComponent(second)}`)
    await choosePassword(page, 'second new passphrase for the salon')
    await page.getByText('Your password is changed. Sign in with the new one.').waitFor()
    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill('second new passphrase for the salon')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Your accounts' }).waitFor()
    expect(problems).toEqual([])
  })

  it('an expired verification link leads, after signing in, to a new one; a used one says so', async () => {
    const user = await registerAndLogin(t.app)
    const first = mailToken(await lastMailTo(t, user.email, /verify/i), baseUrl)
    // A day and more later, the link has expired.
    t.clock.advance(25 * 60 * 60_000)
    const { page, problems } = await newPage(375)

    await page.goto(`${baseUrl}/verify-email?token=${encodeURIComponent(first)}`)
    await page
      .getByRole('alert')
      .getByText('This verification link has expired or was already used.')
      .waitFor()
    await accessible(page, 'an expired verification link, signed out')
    await page.getByRole('link', { name: 'Sign in' }).click()
    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${baseUrl}/verify-email?resend=1`)
    await page.getByRole('button', { name: 'Email me a new link' }).click()
    await page.getByText('A new link is on its way to your address.').waitFor()
    await accessible(page, 'a new verification link sent')

    // The new link verifies; opened again, it is used, and asking for another says there is no need.
    const second = await newToken(user.email, /verify/i, first)
    const secondLink = `${baseUrl}/verify-email?token=${encodeURIComponent(second)}`
    await page.goto(secondLink)
    await page.getByText('Your email address is verified.').waitFor()
    await page.goto(secondLink)
    await page
      .getByRole('alert')
      .getByText('This verification link has expired or was already used.')
      .waitFor()
    await page.getByRole('button', { name: 'Email me a new link' }).click()
    await page.getByText('Your email address is already verified').waitFor()
    await accessible(page, 'a used verification link, signed in')
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')
    expect(overflow).toBeLessThanOrEqual(0)
    expect(problems).toEqual([])
  })
})
