// The OpenAPI document as clients and generators read it (hardening issue, item 13): errors typed
// as problem+json, the security of every operation stated, the instance's server, examples on
// request bodies and main responses, and no component nothing uses. `npm run check` lints the same
// document with Redocly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp, type TestApp } from './helpers/app.ts'

interface Media {
  schema?: unknown
  example?: unknown
  examples?: unknown
}
interface Operation {
  operationId: string
  security?: unknown
  requestBody?: { content: Record<string, Media> }
  responses: Record<string, { content?: Record<string, Media> }>
}
interface Document {
  servers?: { url: string }[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

/** Operations anyone may call without credentials. A new route is private unless listed here. */
const publicOperations = [
  'forgotPassword',
  'getPlan',
  'health',
  'jwks',
  'listPlans',
  'listSignInOptions',
  'logout',
  'oauthCallback',
  'oauthStart',
  'ready',
  'receiveStripeWebhook',
  'refresh',
  'register',
  'requestLoginCode',
  'resetPassword',
  'token',
  'verifyEmail',
  'verifyLoginCode',
]

describe('the OpenAPI document', () => {
  let t: TestApp
  let doc: Document
  let operations: { label: string; path: string; op: Operation }[]
  beforeAll(async () => {
    t = await buildTestApp()
    doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, path, op })),
    )
  })
  afterAll(async () => {
    await t?.close()
  })

  it('declares every error response as application/problem+json, not application/json', () => {
    let errors = 0
    for (const { label, path, op } of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        if (Number(status) < 400 || (path === '/ready' && status === '503')) continue
        errors++
        expect(Object.keys(response.content ?? {}), `${label} ${status}`).toEqual([
          'application/problem+json',
        ])
      }
    }
    expect(errors).toBeGreaterThan(200)
  })

  it('marks public operations with security: [] and every other with its bearer requirement', () => {
    const open = operations.filter(({ op }) => Array.isArray(op.security) && op.security.length === 0)
    expect(open.map(({ op }) => op.operationId).sort()).toEqual(publicOperations)
    for (const { label, path, op } of operations) {
      if (publicOperations.includes(op.operationId)) continue
      const expected = path === '/metrics' ? [{ metricsToken: [] }] : [{ bearer: [] }]
      expect(op.security, label).toEqual(expected)
    }
  })

  it('names the instance (APP_URL) as its server', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: t.deps.config.APP_URL })])
  })

  it('has an example on every request body and every 2xx response with a body', () => {
    let bodies = 0
    for (const { label, op } of operations) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        bodies++
        expect(media.example, `${label} request ${type}`).toBeDefined()
      }
      for (const [status, response] of Object.entries(op.responses)) {
        if (!status.startsWith('2')) continue
        if (status === '204') expect(response.content, `${label} 204`).toBeUndefined()
        for (const [type, media] of Object.entries(response.content ?? {})) {
          expect(media.example, `${label} ${status} ${type}`).toBeDefined()
        }
      }
    }
    expect(bodies).toBeGreaterThan(20)
  })

  it('keeps only the component schemas something refers to, with no *Input duplicates', () => {
    const names = Object.keys(doc.components.schemas)
    expect(names.filter((name) => name.endsWith('Input'))).toEqual([])
    const text = JSON.stringify(doc)
    for (const name of names) expect(text, name).toContain(`"#/components/schemas/${name}"`)
  })

  it('lists both body types the token endpoint accepts', () => {
    const token = operations.find(({ op }) => op.operationId === 'token')
    expect(Object.keys(token?.op.requestBody?.content ?? {})).toEqual([
      'application/json',
      'application/x-www-form-urlencoded',
    ])
  })
})
