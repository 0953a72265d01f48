// Joining an account from an invitation email, in a real browser: the invitee has no user yet,
// signs up from the invitation page, verifies the address from its email, comes back through the
// invitation link, signs in and lands in the account as a member.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createAccount,
  lastMailTo,
  mailToken,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

describe.skipIf(!executablePath)('accepting an invitation in Chromium', () => {
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

  it('signs the invitee up from the link, verifies, signs in and joins as a member', async () => {
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Salon Zoé' })
    const invitee = uniqueEmail('invitee')
    const invited = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${account.id}/invitations`,
      headers: bearer(owner.token),
      payload: { email: invitee, role: 'member' },
    })
    expect(invited.statusCode, invited.body).toBe(202)
    const invitation = await lastMailTo(t, invitee, /invited/i)
    const link = `${baseUrl}/accept-invitation?token=${encodeURIComponent(mailToken(invitation, baseUrl))}`
    expect(invitation.text).toContain(link)

    const page = await (await browser.newContext()).newPage()
    const { problems } = watchPage(page)
    await page.goto(link)
    await page.getByRole('heading', { name: 'Join an account' }).waitFor()
    expect(await accessibilityViolations(page)).toEqual([])
    await page.getByRole('link', { name: 'create an account' }).click()
    await page.getByLabel('Email').fill(invitee)
    const password = 'an invitee passphrase 7'
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('heading', { name: 'Check your email' }).waitFor()

    const verify = await lastMailTo(t, invitee, /verify/i)
    await page.goto(`${baseUrl}/verify-email?token=${encodeURIComponent(mailToken(verify, baseUrl))}`)
    await page.getByText('Your email address is verified.').waitFor()

    await page.goto(link)
    await page.getByRole('link', { name: 'sign in' }).click()
    await page.getByLabel('Email').fill(invitee)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Accept the invitation' }).click()
    await page.getByRole('heading', { name: 'Salon Zoé' }).waitFor()
    await page.getByText('You are a member').waitFor()
    // The invitation link works once.
    await page.goto(link)
    await page.getByRole('button', { name: 'Accept the invitation' }).click()
    await page.getByRole('alert').waitFor()
    expect(await page.getByRole('alert').textContent()).toMatch(/used|accepted/i)
    expect(problems).toEqual([])
  })
})
