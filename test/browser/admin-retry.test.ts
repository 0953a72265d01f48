// Retrying from the admin dashboard in a real browser: a webhook delivery to a receiver that
// answered 500 until its retries ran out is sent once more after the receiver is back, and the
// delivery job that failed with it gets one more attempt. Then the admin raises the basic plan's
// staff limit and an owner on basic sees the new limit on their portal overview.
// Every page passes axe's serious/critical rules with no console errors, under the page CSP.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adminCredentials,
  bearer,
  createAccount,
  loginAdmin,
  registerAndLogin,
  subscribe,
  type TestApp,
} from '../helpers/app.ts'
import {
  accessibilityViolations,
  type BrowserApp,
  chromiumPath,
  startBrowserApp,
  watchPage,
} from '../helpers/browser.ts'

const executablePath = chromiumPath()

/** A local webhook receiver that answers every request with `status` (which the test changes). */
async function startReceiver() {
  const state = { status: 500, requests: 0 }
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      state.requests++
      res.writeHead(state.status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    state,
    url: `http://127.0.0.1:${port}/hooks/plangate`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe.skipIf(!executablePath)('retrying from the admin dashboard in Chromium', () => {
  let t: TestApp
  let running: BrowserApp | undefined
  let receiver: Awaited<ReturnType<typeof startReceiver>>

  beforeAll(async () => {
    // Retries are due at once, so one drain runs a delivery through all its attempts, and the
    // endpoint's circuit breaker stays closed through them.
    running = await startBrowserApp(executablePath as string, {
      WEBHOOK_RETRY_DELAY_SECONDS: '0',
      WEBHOOK_BREAKER_FAILURES: '100',
    })
    t = running.t
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await running?.close()
    await receiver?.close()
  })

  const accessible = async (page: Page, where: string) =>
    expect(await accessibilityViolations(page), where).toEqual([])
  const drain = () => t.deps.jobs.drain(t.deps)

  const signIn = async (page: Page, email: string, password: string) => {
    const { baseUrl } = running as BrowserApp
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${baseUrl}/app`)
  }

  it('sends a failed delivery once more and gives its failed job another attempt', async () => {
    const { browser } = running as BrowserApp
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    const { problems } = watchPage(page)
    await signIn(page, adminCredentials.email, adminCredentials.password)
    const sections = page.getByRole('navigation', { name: 'Admin' })

    // The endpoint, registered in the form for subscription.created only (test apps allow 127.0.0.1).
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click()
    await sections.getByRole('link', { name: 'Webhook endpoints' }).click()
    const form = page.getByRole('form', { name: 'Register an endpoint' })
    await form.getByLabel('URL').fill(receiver.url)
    await form.getByRole('checkbox', { name: /every event/ }).uncheck()
    await form.getByRole('checkbox', { name: 'subscription.created', exact: true }).check()
    await form.getByRole('button', { name: 'Register the endpoint' }).click()
    await page.getByText(`Endpoint ${receiver.url} registered.`).waitFor()

    // An event for it: an account subscribes. Every automatic attempt gets a 500.
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Retry Salon' })
    await subscribe(t.app, owner.token, account.id, 'basic')
    await drain()
    await drain()
    const admin = await loginAdmin(t.app)
    const endpoints = await t.app.inject({
      method: 'GET',
      url: '/v1/webhook-endpoints',
      headers: bearer(admin),
    })
    const endpoint = endpoints.json().data.find((found: { url: string }) => found.url === receiver.url)
    const deliveries = async () =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/webhook-endpoints/${endpoint.id}/deliveries`,
          headers: bearer(admin),
        })
      ).json().data as { id: string; status: string; attempts: number }[]
    const [failed] = await deliveries()
    expect(failed).toMatchObject({ status: 'failed', attempts: 9 })
    expect(receiver.state.requests).toBe(9)

    // The receiver is back; the admin sends the delivery once more.
    receiver.state.status = 200
    await page.getByRole('button', { name: `Deliveries to ${receiver.url}` }).click()
    const log = page.getByRole('region', { name: `Deliveries to ${receiver.url}` })
    await log.getByText('failed', { exact: true }).waitFor()
    await accessible(page, 'a failed delivery')
    await log.getByRole('button', { name: /^Retry the subscription\.created delivery of / }).click()
    await log.getByText('The subscription.created delivery is queued to be sent once more.').waitFor()
    await log.getByText('pending', { exact: true }).waitFor()
    expect(await log.getByRole('button', { name: /^Retry/ }).count()).toBe(0)
    await drain()
    expect(await deliveries()).toEqual([expect.objectContaining({ id: failed?.id, status: 'delivered' })])
    expect(receiver.state.requests).toBe(10)
    // Opened again, the log shows it delivered with the receiver's answer.
    await log.getByRole('button', { name: 'Close the deliveries' }).click()
    await page.getByRole('button', { name: `Deliveries to ${receiver.url}` }).click()
    await log.getByText('delivered', { exact: true }).waitFor()
    expect(await log.getByRole('row').nth(1).textContent()).toContain('HTTP 200')

    // The delivery's job failed with it, kept for inspection. Another attempt finds the delivery
    // already settled and completes without sending anything.
    await sections.getByRole('link', { name: 'Jobs' }).click()
    await page.getByLabel('State').selectOption('failed')
    const ofDelivery = page.getByRole('row').filter({ hasText: `"delivery_id":"${failed?.id}"` })
    await ofDelivery.getByText('failed', { exact: true }).waitFor()
    // Until the filtered list replaces the full one, the delivery's completed retry job shows too.
    await expect.poll(() => ofDelivery.count()).toBe(1)
    expect(await ofDelivery.textContent()).toContain('webhooks.deliver')
    await accessible(page, 'a failed job')
    await ofDelivery.getByRole('button', { name: /^Retry the webhooks\.deliver job / }).click()
    await page.getByText(/The webhooks\.deliver job .* gets one more attempt/).waitFor()
    // Reloaded, the list of failed jobs no longer has it; it waits in `retry`.
    await page.getByText('No jobs match.').waitFor()
    await page.getByLabel('State').selectOption('retry')
    await ofDelivery.getByText('retry', { exact: true }).waitFor()
    expect(await ofDelivery.getByRole('button', { name: /^Retry/ }).count()).toBe(0)
    await drain()
    await page.getByLabel('State').selectOption('completed')
    // Completed: the job the delivery's retry queued, and the one retried here.
    await expect.poll(() => ofDelivery.getByText('completed', { exact: true }).count()).toBe(2)
    expect(receiver.state.requests).toBe(10)
    await accessible(page, 'jobs after the retry')

    expect(problems).toEqual([])
    await context.close()
  }, 120_000)

  it('shows an owner on basic the staff limit the admin just raised', async () => {
    const { browser } = running as BrowserApp
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name: 'Limit Salon' })
    await subscribe(t.app, owner.token, account.id, 'basic')
    const staff = await t.app.inject({
      method: 'POST',
      url: `/v1/accounts/${account.id}/staff`,
      headers: bearer(owner.token),
      payload: { name: 'Ann' },
    })
    expect(staff.statusCode, staff.body).toBe(201)

    const ownerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    ownerContext.setDefaultTimeout(15_000)
    const ownerPage = await ownerContext.newPage()
    const ownerWatch = watchPage(ownerPage)
    await signIn(ownerPage, owner.email, owner.password)
    await ownerPage.getByRole('link', { name: 'Limit Salon' }).click()
    await ownerPage.getByText('1 of 2 staff members').first().waitFor()

    // The admin raises basic's staff limit in the plan editor.
    const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    adminContext.setDefaultTimeout(15_000)
    const adminPage = await adminContext.newPage()
    const adminWatch = watchPage(adminPage)
    await signIn(adminPage, adminCredentials.email, adminCredentials.password)
    await adminPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click()
    await adminPage.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Plans' }).click()
    await adminPage.getByRole('button', { name: 'Edit Basic' }).click()
    await adminPage.getByLabel('Limit of staff', { exact: true }).fill('3')
    await adminPage.getByLabel('Price', { exact: true }).fill('29.00')
    await adminPage.getByRole('button', { name: 'Review the changes' }).click()
    const confirmation = adminPage.getByRole('region', { name: 'Confirm the changes to Basic' })
    await confirmation.getByRole('button', { name: 'Confirm: save Basic' }).click()
    await adminPage.getByText('Basic saved.').waitFor()

    // The owner's overview, read again, counts against the new limit, at the price they pay.
    await ownerPage.reload()
    await ownerPage.getByText('1 of 3 staff members').first().waitFor()
    const kept = await ownerPage.evaluate(() =>
      new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' }).format(19),
    )
    await ownerPage.getByText(`${kept} a month`).waitFor()
    await accessible(ownerPage, 'overview with the raised limit')

    expect(ownerWatch.problems).toEqual([])
    expect(adminWatch.problems).toEqual([])
    await ownerContext.close()
    await adminContext.close()
  }, 120_000)
})
