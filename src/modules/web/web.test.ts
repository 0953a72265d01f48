// Serving the built UI: its pages answer index.html under the page CSP, hashed assets are cached
// for good, and everything else keeps the API's problem+json 404.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from '../../../test/helpers/app.ts'
import { pageCsp, webRoutes } from './routes.ts'

describe('the web UI routes', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  const get = (url: string) => t.app.inject({ method: 'GET', url })

  it('answers every page of the app with index.html, not cached, under the page CSP', async () => {
    for (const url of [
      '/',
      '/sign-in',
      '/verify-email?token=abc',
      '/app',
      '/app/accounts/x/staff',
      '/admin/plans',
    ]) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.headers['content-security-policy']).toBe(pageCsp)
      expect(res.body).toContain('<div id="root"></div>')
      // The build has no inline script for the CSP to refuse.
      expect(res.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/)
    }
    expect(pageCsp).not.toContain('unsafe-inline')
  })

  it('serves the hashed assets for a year, and a missing one is the API 404', async () => {
    const index = (await get('/sign-in')).body
    const scripts = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map(
      (match) => match[1] as string,
    )
    expect(scripts.length).toBeGreaterThanOrEqual(2)
    for (const url of scripts) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    }
    const missing = await get('/assets/index-00000000.js')
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toContain('application/problem+json')
    const traversal = await get('/assets/..%2f..%2fpackage.json')
    expect(traversal.statusCode).toBeGreaterThanOrEqual(400)
    expect(traversal.body).not.toContain('"devDependencies"')
  })

  it('keeps problem+json 404s for API paths, unknown paths and other methods', async () => {
    for (const [method, url] of [
      ['GET', '/v1/nope'],
      ['GET', '/nope'],
      ['POST', '/sign-in'],
      ['GET', '/appx'],
    ] as const) {
      const res = await t.app.inject({ method, url })
      expect(res.statusCode, url).toBe(404)
      expect(res.headers['content-type']).toContain('application/problem+json')
    }
  })
})

describe('the web UI routes before a build', () => {
  it('say plainly that the UI is not built', async () => {
    const app = Fastify()
    await app.register(webRoutes(pathToFileURL(`${mkdtempSync(join(tmpdir(), 'plangate-web-'))}/`)))
    const res = await app.inject({ method: 'GET', url: '/sign-in' })
    expect(res.statusCode).toBe(503)
    expect(res.body).toContain('npm run build:web')
    await app.close()
  })
})
