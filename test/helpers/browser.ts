// A real browser for the UI tests: Debian's `chromium` package, driven headless by playwright-core
// (which never downloads a browser). Without Chromium the browser tests are skipped, except under
// CI=true, where a missing browser fails the run.
import { existsSync } from 'node:fs'
import AxeBuilder from '@axe-core/playwright'
import { type Browser, chromium, type Page } from 'playwright-core'
import { buildTestApp, type TestApp } from './app.ts'
import { freePort } from './process.ts'

const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']

/** The Chromium binary, or null when there is none (an error under CI=true). */
export function chromiumPath(): string | null {
  const found = candidates.find((path): path is string => Boolean(path) && existsSync(path as string))
  if (found) return found
  if (process.env.CI === 'true') {
    throw new Error('CI=true needs Chromium: apt-get install chromium (or set CHROMIUM_PATH)')
  }
  return null
}

export async function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    // Root in CI containers has no user namespaces for Chromium's sandbox.
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  })
}

/**
 * What a page did wrong while a test drove it: console errors (script errors, CSP violations),
 * uncaught exceptions and 5xx answers. A 4xx the UI handles (a refused limit, a wrong password)
 * is logged by Chromium as "Failed to load resource" and is not counted.
 */
export function watchPage(page: Page): { problems: string[] } {
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    const text = message.text()
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return
    problems.push(`console: ${text}`)
  })
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`))
  page.on('response', (response) => {
    if (response.status() >= 500) problems.push(`${response.status()} ${response.url()}`)
  })
  return { problems }
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`,
    )
}

/** A test app listening on 127.0.0.1 with APP_URL set to where it listens, and a browser. */
export interface BrowserApp {
  t: TestApp
  browser: Browser
  /** The app's origin, e.g. http://127.0.0.1:41234: the links in its emails start with it. */
  baseUrl: string
  close(): Promise<void>
}

export async function startBrowserApp(
  executablePath: string,
  env: Record<string, string> = {},
): Promise<BrowserApp> {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const t = await buildTestApp({ APP_URL: baseUrl, ...env })
  await t.app.listen({ host: '127.0.0.1', port })
  const browser = await launchBrowser(executablePath)
  return {
    t,
    browser,
    baseUrl,
    async close() {
      await browser.close()
      await t.close()
    },
  }
}

/**
 * Waits until just after midnight (UTC, the browser's time zone in the tests) when a journey of
 * `spanMs` starting now would straddle it: a journey that books "today" and then reads today's
 * meter or chart must see one day. Give the test `spanMs` more time than it needs.
 */
export async function awayFromMidnight(spanMs: number): Promise<void> {
  const toMidnight = 86_400_000 - (Date.now() % 86_400_000)
  if (toMidnight < spanMs) await new Promise((resolve) => setTimeout(resolve, toMidnight + 1000))
}
