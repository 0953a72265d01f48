// Writes the README's screenshots, docs/portal.png (an account's overview: its meters and the
// 30-day chart of bookings) and docs/admin.png (the admin overview with its charts), from a test
// app on an in-memory database filled with a small, made-up data set, in the headless Chromium the
// browser tests use (test/helpers/browser.ts). Run by hand after the UI changes: npm run screenshots.
import { resolve } from 'node:path'
import type { Page } from 'playwright-core'
import type { App } from '../src/app.ts'
import { adminCredentials, createAccount, login, registerAndLogin, subscribe } from '../test/helpers/app.ts'
import { chromiumPath, startBrowserApp } from '../test/helpers/browser.ts'
import { ensureWebBuild } from '../test/helpers/web.ts'

const day = 24 * 60 * 60 * 1000
const viewport = { width: 1280, height: 900 }

const executablePath = chromiumPath()
if (!executablePath) throw new Error('No Chromium: apt-get install chromium (or set CHROMIUM_PATH)')
await ensureWebBuild()
const running = await startBrowserApp(executablePath)
const { t, browser, baseUrl } = running

/** A POST as `token` that must succeed; its JSON body. */
async function post(app: App, token: string, url: string, payload: Record<string, unknown>) {
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}` },
    payload,
  })
  if (res.statusCode >= 300) throw new Error(`POST ${url} answered ${res.statusCode}: ${res.body}`)
  return res.json() as { id: string }
}

try {
  const now = t.clock.now()
  const at = (daysAgo: number, hour = 9) => {
    const instant = new Date(now.getTime() - daysAgo * day)
    instant.setUTCHours(hour, 0, 0, 0)
    return instant
  }

  // Other businesses, subscribed over the last four weeks: the admin overview's figures and charts.
  // All within their first period, as nothing here renews a subscription.
  const others: [string, string, number][] = [
    ['Northside Barbers', 'pro', 28],
    ['Pine Street Tattoo', 'basic', 26],
    ['Lumen Nails', 'basic', 23],
    ['Oak & Ash Spa', 'pro', 17],
    ['Bright Smile Dental', 'basic', 11],
    ['Fern Yoga Studio', 'basic', 6],
    ['Copper Kettle Grooming', 'pro', 2],
  ]
  for (const [name, plan, daysAgo] of others) {
    t.clock.set(at(daysAgo))
    const owner = await registerAndLogin(t.app)
    const account = await createAccount(t.app, owner.token, { name })
    await subscribe(t.app, owner.token, account.id, plan)
  }

  // The owner in the portal screenshot: on basic for three weeks, two staff, bookings most days.
  t.clock.set(at(21))
  const owner = await registerAndLogin(t.app, { email: 'mara@harbour-hair.example' })
  const account = await createAccount(t.app, owner.token, { name: 'Harbour Hair' })
  await subscribe(t.app, owner.token, account.id, 'basic')
  const staffUrl = `/v1/accounts/${account.id}/staff`
  const staff = [
    await post(t.app, owner.token, staffUrl, { name: 'Mara Lindqvist' }),
    await post(t.app, owner.token, staffUrl, { name: 'Jonas Ek' }),
  ]
  const customers = ['Alva', 'Noah', 'Ines', 'Omar', 'Freja', 'Leo', 'Saga', 'Elias', 'Maja', 'Hugo']
  const perDay = [2, 4, 3, 5, 0, 1, 3, 4, 2, 5, 3, 4, 0, 2, 3, 5, 4, 3, 1, 4, 2]
  for (const [index, count] of perDay.entries()) {
    const daysAgo = perDay.length - 1 - index
    t.clock.set(at(daysAgo, 7))
    const { token } = await login(t.app, owner.email, owner.password)
    for (let booking = 0; booking < count; booking++) {
      await post(t.app, token, `/v1/accounts/${account.id}/bookings`, {
        staff_id: staff[booking % staff.length]?.id,
        customer_name: customers[(index + booking) % customers.length],
        starts_at: at(daysAgo, 9 + booking * 2).toISOString(),
        duration_minutes: 45,
      })
    }
  }
  t.clock.set(now)
  await t.deps.jobs.drain(t.deps)

  const shoot = async (
    credentials: { email: string; password: string },
    path: string,
    ready: (page: Page) => Promise<number | undefined>,
    file: string,
  ) => {
    const context = await browser.newContext({ viewport, colorScheme: 'light' })
    context.setDefaultTimeout(15_000)
    const page = await context.newPage()
    await page.goto(`${baseUrl}/sign-in`)
    await page.getByLabel('Email').fill(credentials.email)
    await page.getByLabel('Password').fill(credentials.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${baseUrl}/app`)
    await page.goto(`${baseUrl}${path}`)
    // The page down to where `ready` says the picture ends (else the whole page).
    const bottom = await ready(page)
    await page.screenshot({
      path: resolve(file),
      fullPage: true,
      ...(bottom && { clip: { x: 0, y: 0, width: viewport.width, height: Math.ceil(bottom) } }),
    })
    await context.close()
    console.log(`wrote ${file}`)
  }

  await shoot(
    owner,
    `/app/accounts/${account.id}`,
    async (page) => {
      await page.getByRole('heading', { name: 'Harbour Hair' }).waitFor()
      await page
        .getByRole('img', { name: /bookings/i })
        .first()
        .waitFor()
    },
    'docs/portal.png',
  )
  await shoot(
    adminCredentials,
    '/admin',
    async (page) => {
      await page.getByRole('heading', { name: 'Overview' }).waitFor()
      await page.getByRole('img', { name: /MRR at the end of each day/ }).waitFor()
      // The figures and the first two charts (MRR, active subscriptions): the others are flat here.
      const active = await page.getByRole('img', { name: /^Active subscriptions:/ }).boundingBox()
      return active ? active.y + active.height + 24 : undefined
    },
    'docs/admin.png',
  )
} finally {
  await running.close()
}
