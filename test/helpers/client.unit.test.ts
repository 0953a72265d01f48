// The inject adapter of the typed test client, against a bare Fastify app that answers on the API's
// paths: what goes in (method, path, query, headers, body) and what comes out (status, headers,
// body, the problem as a typed error).
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectData, testClient } from './client.ts'

const app = Fastify()
type Seen = { method: string; url: string; authorization?: string; contentType?: string; body: unknown }
const seen: Seen[] = []

beforeAll(async () => {
  app.post('/v1/accounts', async (req, reply) => {
    seen.push({
      method: req.method,
      url: req.url,
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      body: req.body,
    })
    reply.header('set-cookie', ['a=1; Path=/', 'b=2; Path=/; HttpOnly']).header('x-request-id', 'req-1')
    return reply.code(201).send({
      id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      name: 'Salon',
      timezone: 'UTC',
      role: 'owner',
      created_at: '2026-11-01T09:00:00.000Z',
      updated_at: '2026-11-01T09:00:00.000Z',
    })
  })
  app.get('/v1/accounts/:accountId/subscription/preview', async (req) => {
    seen.push({ method: req.method, url: req.url, body: undefined })
    return {}
  })
  app.get('/v1/me', async (_req, reply) =>
    reply.code(401).type('application/problem+json').send({
      type: 'about:blank',
      title: 'Unauthorized',
      status: 401,
      detail: 'No token.',
      code: 'unauthorized',
    }),
  )
  app.post('/v1/auth/logout', async (_req, reply) => reply.code(204).send())
  await app.ready()
})

afterAll(() => app.close())

describe('testClient', () => {
  it('sends the method, path, JSON body and bearer token through inject', async () => {
    const client = testClient(app).withToken('tok-1')
    const { data, response } = await client.POST('/v1/accounts', { body: { name: 'Salon' } })
    expect(response.status).toBe(201)
    expect(data?.name).toBe('Salon')
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      url: '/v1/accounts',
      authorization: 'Bearer tok-1',
      contentType: 'application/json',
      body: { name: 'Salon' },
    })
  })

  it('keeps each set-cookie header apart, and the other headers', async () => {
    const { response } = await testClient(app).POST('/v1/accounts', { body: { name: 'Salon' } })
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly'])
    expect(response.headers.get('x-request-id')).toBe('req-1')
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(seen.at(-1)?.authorization).toBeUndefined()
  })

  it('fills path parameters and serializes the query', async () => {
    await testClient(app, 'tok-2').GET('/v1/accounts/{accountId}/subscription/preview', {
      params: { path: { accountId: 'acc 1' }, query: { plan: 'pro' } },
    })
    expect(seen.at(-1)?.url).toBe('/v1/accounts/acc%201/subscription/preview?plan=pro')
  })

  it('returns a problem+json answer as the typed error', async () => {
    const { data, error, response } = await testClient(app).GET('/v1/me')
    expect(response.status).toBe(401)
    expect(data).toBeUndefined()
    // `error` is the route's declared Problem: its code is the closed union of error codes.
    const code: 'unauthorized' | undefined = error?.code === 'unauthorized' ? error.code : undefined
    expect(code).toBe('unauthorized')
    expect(error).toMatchObject({ status: 401, detail: 'No token.' })
  })

  it('answers a 204 with no body', async () => {
    const { data, error, response } = await testClient(app).POST('/v1/auth/logout', { body: {} })
    expect(response.status).toBe(204)
    expect(data).toBeUndefined()
    expect(error).toBeUndefined()
  })

  it('expectData returns the data, and throws with the status and the problem otherwise', async () => {
    const client = testClient(app)
    const account = await expectData(client.POST('/v1/accounts', { body: { name: 'Salon' } }), 201)
    expect(account.role).toBe('owner')
    await expect(expectData(client.GET('/v1/me'))).rejects.toThrow(
      /http:\/\/plangate\.test\/v1\/me answered 401: .*"code":"unauthorized"/,
    )
    await expect(expectData(client.POST('/v1/accounts', { body: { name: 'Salon' } }), 200)).rejects.toThrow(
      /answered 201/,
    )
  })
})
