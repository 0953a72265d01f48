// Fuzzing the API from its own OpenAPI document (§7: no 500 for bad input). For every operation, a
// fixed-seed run of near-valid and malformed requests, sent with a real token so they get past the
// door: none may answer 5xx, and every 4xx is problem+json with a code from src/core/errors.ts.
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { afterAll, describe, expect, it } from 'vitest'
import { type ErrorCode, errorCodes } from '../src/core/errors.ts'
import {
  addMember,
  bearer,
  buildTestApp,
  invite,
  loginAdmin,
  registerAndLogin,
  subscribedAccount,
} from './helpers/app.ts'

const runsPerOperation = 30

interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  propertyNames?: JsonSchema
  items?: JsonSchema
  enum?: unknown[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  format?: string
  pattern?: string
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
}

interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  schema: JsonSchema
}

interface Operation {
  name: string
  method: string
  path: string
  parameters: Parameter[]
  body?: JsonSchema
}

const t = await buildTestApp()
const { owner, account } = await subscribedAccount(t.app, 'pro')
const member = await registerAndLogin(t.app)
const adminToken = await loginAdmin(t.app)
const accountUrl = `/v1/accounts/${account.id}`
await addMember(t, owner.token, account.id, member)
const invitation = await invite(t, owner.token, account.id, 'fuzz-invitee@example.test')
const seeded = await Promise.all([
  t.app.inject({
    method: 'POST',
    url: `${accountUrl}/staff`,
    headers: bearer(owner.token),
    payload: { name: 'Ann' },
  }),
  t.app.inject({
    method: 'POST',
    url: `${accountUrl}/bookings`,
    headers: bearer(owner.token),
    payload: { customer_name: 'Zoe', starts_at: '2031-03-10T10:00:00Z' },
  }),
])
const fuzzPlan = await t.app.inject({
  method: 'POST',
  url: '/v1/plans',
  headers: bearer(adminToken),
  payload: { code: 'fuzz-plan', name: 'Fuzz', price_cents: 100, limits: { staff: 1, exports_per_day: 3 } },
})
for (const res of [...seeded, fuzzPlan]) {
  if (res.statusCode !== 201) throw new Error(`fuzz setup failed: ${res.body}`)
}
const staffId: string = seeded[0].json().id
const bookingId: string = seeded[1].json().id

const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId: string
        parameters?: Parameter[]
        requestBody?: { content: Record<string, { schema: JsonSchema }> }
      }
    >
  >
}
const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    name: `${method.toUpperCase()} ${path}`,
    method: method.toUpperCase(),
    path,
    parameters: op.parameters ?? [],
    body: op.requestBody?.content['application/json']?.schema,
  })),
)

/** Real values, so that some requests reach the handlers and the database. */
const known: Record<string, unknown[]> = {
  accountId: [account.id],
  userId: [owner.id, member.id],
  staffId: [staffId],
  bookingId: [bookingId],
  invitationId: [invitation.id],
  staff_id: [staffId],
  // Plan routes take the fuzz's own plan, so retiring or rewriting it leaves basic and pro alone.
  code: ['fuzz-plan'],
  plan: ['basic', 'pro'],
  feature: ['staff', 'bookings_per_day', 'exports_per_day'],
  date: ['2031-03-10', '2030-02-28'],
  email: [member.email, owner.email],
  username: [owner.email],
  timezone: ['UTC', 'Europe/Paris', 'Pacific/Kiritimati'],
}

const nested = (depth: number): unknown => {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value }
  return value
}

/** Values of the wrong type or shape: nulls, extremes, odd strings, deep nesting. */
const evil: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    0,
    -1,
    1e308,
    -1e308,
    2 ** 53 + 1,
    Number.MIN_VALUE,
    '',
    ' ',
    '\u0000',
    'a\u0000b',
    '\ud800',
    'null',
    '../../etc/passwd',
    "' or 1=1 --",
    '<script>alert(1)</script>',
    '%00',
    '1e400',
    '2030-02-30T10:00:00Z',
    '\u202e\u0301',
    {},
    [],
  ),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.integer({ min: 200, max: 20_000 }).map((length) => 'x'.repeat(length)),
  fc.double(),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 20, max: 2000 }).map(nested),
)

/** A value that satisfies (or nearly satisfies) the schema, preferring real values for known names. */
function nearValid(schema: JsonSchema, name?: string): fc.Arbitrary<unknown> {
  const generic = fromSchema(schema)
  const real = name ? known[name] : undefined
  return real ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...real) }, generic) : generic
}

function fromSchema(schema: JsonSchema): fc.Arbitrary<unknown> {
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives) return fc.oneof(...alternatives.map((s) => fromSchema(s)))
  if (schema.enum) return fc.constantFrom(...schema.enum)
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type
  switch (type) {
    case 'string':
      if (schema.format === 'date-time')
        return fc
          .date({ min: new Date('1990-01-01'), max: new Date('2300-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString())
      if (schema.format === 'email') return fc.emailAddress()
      if (schema.format === 'uuid') return fc.uuid()
      if (schema.format === 'uri') return fc.webUrl()
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern))
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) })
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 })
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(schema.items ? fromSchema(schema.items) : fc.jsonValue(), { maxLength: 3 })
    case 'object': {
      const properties = schema.properties ?? {}
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([key, s]) => [key, nearValid(s, key)])),
        { requiredKeys: schema.required ?? [] },
      )
      const extra = schema.additionalProperties
      if (typeof extra !== 'object') return record
      const keys = schema.propertyNames ? fromSchema(schema.propertyNames) : fc.string()
      return fc
        .tuple(record, fc.dictionary(keys.map(String), fromSchema(extra), { maxKeys: 3 }))
        .map(([fixed, more]) => ({ ...more, ...fixed }))
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/** One field replaced by an evil value, removed, or an unknown field added. */
function mutated(schema: JsonSchema): fc.Arbitrary<unknown> {
  const keys = Object.keys(schema.properties ?? {})
  return fc
    .tuple(nearValid(schema), fc.nat(), fc.constantFrom('replace', 'remove', 'add'), evil)
    .map(([value, index, how, bad]) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad
      const copy: Record<string, unknown> = { ...value }
      const key = keys.length > 0 ? keys[index % keys.length] : undefined
      if (how === 'add' || key === undefined) copy[`unknown_${index % 7}`] = bad
      else if (how === 'remove') delete copy[key]
      else copy[key] = bad
      return copy
    })
}

const rawText = fc.oneof(
  fc.constantFrom(
    '',
    '{"name":',
    '{',
    '[',
    'null',
    '"text"',
    '1e400',
    '{"quantity": 1e400, "feature": "staff"}',
    '{"__proto__": {"is_admin": true}}',
    '{"constructor": {"prototype": {"is_admin": true}}}',
    '{"name": "a", "name": "b"}',
    '\ufeff{}',
    '{"name": "\\ud800"}',
    '{"name": "\\u0000"}',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
)

function bodyArbitrary(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  const shaped = schema ?? { type: 'object' }
  return fc.oneof(
    { weight: 5, arbitrary: nearValid(shaped).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 4, arbitrary: mutated(shaped).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: evil.map((v) => JSON.stringify(v) ?? 'null') },
    {
      weight: 1,
      arbitrary: fc.tuple(nearValid(shaped), fc.nat()).map(([v, cut]) => {
        const text = JSON.stringify(v) ?? ''
        return text.slice(0, cut % (text.length + 1))
      }),
    },
    { weight: 1, arbitrary: rawText },
  )
}

const asText = (value: unknown) => (typeof value === 'string' ? value : (JSON.stringify(value) ?? ''))

const pathSegment = (name: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...((known[name] as string[] | undefined) ?? ['x'])) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: evil.map((v) => encodeURIComponent(asText(v)).slice(0, 300)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '..',
        '%',
        '%00',
        '%2e%2e',
        '%ZZ',
        '-1',
        'a'.repeat(201),
        '00000000-0000-0000-0000-000000000000',
        'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
        '01a207c4-db77-7147-a174-9d23d5f59a9',
      ),
    },
  )

function queryArbitrary(parameters: Parameter[]): fc.Arbitrary<string> {
  const declared = parameters.filter((p) => p.in === 'query')
  const values = declared.map((p) =>
    fc.option(
      fc.oneof(
        { weight: 3, arbitrary: nearValid(p.schema, p.name).map(asText) },
        { weight: 1, arbitrary: evil.map(asText) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
      ),
      { nil: undefined, freq: 2 },
    ),
  )
  const extra = fc.option(
    fc.constantFrom(
      'limit=1&limit=2',
      '%zz=%zz',
      'cursor[a]=1',
      'date=2030-13-01',
      '=&&=',
      'limit=1e3',
      'status=deleted',
      'include_inactive=yes',
      `cursor=${Buffer.from('["x"]').toString('base64url')}`,
      `cursor=${Buffer.from('[1e400]').toString('base64url')}`,
      `cursor=${Buffer.from('["2030-01-01","not-a-uuid"]').toString('base64url')}`,
    ),
    { nil: undefined, freq: 4 },
  )
  return fc.tuple(fc.tuple(...values), extra).map(([chosen, raw]) => {
    const search = new URLSearchParams()
    declared.forEach((p, i) => {
      const value = chosen[i]
      if (value !== undefined) search.set(p.name, value)
    })
    const parts = [search.toString(), raw].filter(Boolean)
    return parts.length > 0 ? `?${parts.join('&')}` : ''
  })
}

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'application/x-www-form-urlencoded',
      'text/plain',
      'application/json; charset=utf-16',
      'application/merge-patch+json',
      'multipart/form-data; boundary=x',
    ),
  },
)

const idempotencyKey = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,40}$/) },
    { weight: 1, arbitrary: fc.constantFrom('has space', 'k'.repeat(300), 'ü-key') },
  ),
  { nil: undefined, freq: 3 },
)

/** Admin-only operations get the site admin's token so that they too reach their handlers. */
const tokenFor = (op: Operation) =>
  op.path.startsWith('/v1/plans') && op.method !== 'GET' ? adminToken : owner.token

function requestArbitrary(op: Operation): fc.Arbitrary<InjectOptions> {
  const pathNames = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '')
  const takesIdempotencyKey = op.parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key')
  const sendsBody = op.method !== 'GET'
  return fc
    .record({
      segments: fc.tuple(...pathNames.map(pathSegment)),
      query: queryArbitrary(op.parameters),
      body: fc.option(bodyArbitrary(op.body), { nil: undefined, freq: op.body ? 10 : 2 }),
      type: contentType,
      key: idempotencyKey,
    })
    .map(({ segments, query, body, type, key }) => {
      let index = 0
      const url = op.path.replace(/\{\w+\}/g, () => segments[index++] ?? '') + query
      const headers: Record<string, string> = { ...bearer(tokenFor(op)) }
      if (takesIdempotencyKey && key !== undefined) headers['idempotency-key'] = key
      const method = op.method as InjectOptions['method']
      if (!sendsBody || body === undefined) return { method, url, headers }
      return { method, url, headers: { ...headers, 'content-type': type }, payload: body }
    })
}

/** A stable seed per operation, so adding an operation does not change the others' runs. */
const seedOf = (name: string) => [...name].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) | 0, 7)

const codes = Object.keys(errorCodes) as ErrorCode[]
const statusesSeen = new Map<string, number[]>()

describe('fuzzing every operation of /openapi.json', () => {
  afterAll(async () => {
    await t.close()
  })

  it('has the operations it fuzzes', () => {
    expect(operations.length).toBeGreaterThan(30)
    expect(operations.filter((op) => op.body).length).toBeGreaterThan(10)
  })

  it.each(operations.map((op) => [op.name, op] as const))(
    '%s never answers 5xx, and answers 4xx as problem+json with a known code',
    async (name, op) => {
      const seen: number[] = []
      statusesSeen.set(name, seen)
      await fc.assert(
        fc.asyncProperty(requestArbitrary(op), async (request) => {
          const res = await t.app.inject(request)
          seen.push(res.statusCode)
          expect(res.statusCode, res.body).toBeLessThan(500)
          if (res.statusCode < 400) return
          expect(res.headers['content-type'], res.body).toMatch(/^application\/problem\+json/)
          const problem = res.json() as { code: ErrorCode; status: number; type: string; title: string }
          expect(codes, res.body).toContain(problem.code)
          expect(problem.status, res.body).toBe(res.statusCode)
          expect(errorCodes[problem.code].status, res.body).toBe(res.statusCode)
          expect(problem).toMatchObject({ type: expect.any(String), title: expect.any(String) })
        }),
        { seed: seedOf(name), numRuns: runsPerOperation },
      )
    },
  )

  it('gets past validation on most operations (the fuzz is not all rejected at the door)', () => {
    const reached = [...statusesSeen.entries()].filter(([, statuses]) => statuses.some((s) => s !== 400))
    const succeeded = [...statusesSeen.values()].flat().filter((s) => s < 400)
    expect(reached.length).toBeGreaterThan(operations.length * 0.75)
    expect(succeeded.length).toBeGreaterThan(operations.length)
  })
})
