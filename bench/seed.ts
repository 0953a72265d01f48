// Seeding through the public HTTP API: the admin creates the `bench` plan, then each user registers,
// logs in, creates an account (time zones mixed), subscribes it to the plan and makes it an API key.
import createClient, { type Client } from 'openapi-fetch'
import type { paths } from '../packages/sdk/src/schema.d.ts'
import { BenchError, benchPlanCode, bookingsPerDay } from './config.ts'
import { adminEmail, adminPassword } from './service.ts'

export interface SeededUser {
  userId: string
  /** The sign-in the token belongs to (its `sid`): the limited-create statement checks it is live. */
  sessionId: string
  accountId: string
  timezone: string
  token: string
  /** The secret (`pgk_…`) of an account key with the scopes of the bench's key scenarios. */
  apiKey: string
}

/** What the key scenarios need: entitlement reads and booking creates. */
export const benchKeyScopes = ['entitlements:read', 'resources:write'] as const

const timezones = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'Asia/Tokyo',
  'Australia/Sydney',
  'America/Los_Angeles',
  'Asia/Kolkata',
  'Pacific/Auckland',
]

const userPassword = 'bench-user-password-0123'

type Api = Client<paths>

/** A client of the service, typed by the API's generated types, as `token` (when given). */
const api = (baseUrl: string, token?: string): Api =>
  createClient<paths>({ baseUrl, ...(token && { headers: { authorization: `Bearer ${token}` } }) })

/** The data of a seeding call, which must answer `expected`. */
async function must<T>(
  what: string,
  expected: number,
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call
  if (response.status !== expected) {
    const detail = typeof error === 'string' ? error : JSON.stringify(error ?? data)
    throw new BenchError(`seeding: ${what} answered ${response.status} (expected ${expected}): ${detail}`)
  }
  return data as T
}

async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const body = await must(
    'POST /v1/auth/token',
    200,
    api(baseUrl).POST('/v1/auth/token', { body: { username, password } }),
  )
  return body.access_token
}

/** The `sid` claim of an access token (read, not verified: the service issued it a moment ago). */
function sessionOf(token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sid?: unknown
  }
  if (typeof payload.sid !== 'string') throw new BenchError('seeding: the access token carries no session')
  return payload.sid
}

async function seedUser(baseUrl: string, index: number, runId: string): Promise<SeededUser> {
  const email = `bench-${runId}-${index}@bench.plangate.test`
  // Registration answers 202 whatever the email; the user's id comes from their profile.
  const register = api(baseUrl).POST('/v1/auth/register', { body: { email, password: userPassword } })
  await must('POST /v1/auth/register', 202, register)
  const token = await login(baseUrl, email, userPassword)
  const client = api(baseUrl, token)
  const user = await must('GET /v1/me', 200, client.GET('/v1/me'))
  const timezone = timezones[index % timezones.length] ?? 'UTC'
  const account = await must(
    'POST /v1/accounts',
    201,
    client.POST('/v1/accounts', { body: { name: `Bench ${index}`, timezone } }),
  )
  await must(
    'POST /v1/accounts/{accountId}/subscription',
    201,
    client.POST('/v1/accounts/{accountId}/subscription', {
      params: { path: { accountId: account.id } },
      body: { plan: benchPlanCode },
    }),
  )
  const key = await must(
    'POST /v1/accounts/{accountId}/api-keys',
    201,
    client.POST('/v1/accounts/{accountId}/api-keys', {
      params: { path: { accountId: account.id } },
      body: { name: 'bench', scopes: [...benchKeyScopes] },
    }),
  )
  return {
    userId: user.id,
    sessionId: sessionOf(token),
    accountId: account.id,
    timezone,
    token,
    apiKey: key.key,
  }
}

/** Creates the plan and `count` subscribed users; a few at a time (argon2 hashing is the slow part). */
export async function seedThroughApi(baseUrl: string, count: number): Promise<SeededUser[]> {
  const adminToken = await login(baseUrl, adminEmail, adminPassword)
  const plan = {
    code: benchPlanCode,
    name: 'Bench',
    price_cents: 0,
    limits: { staff: 5, bookings_per_day: bookingsPerDay },
  }
  await must('POST /v1/plans', 201, api(baseUrl, adminToken).POST('/v1/plans', { body: plan }))
  const runId = Date.now().toString(36)
  const users: SeededUser[] = new Array(count)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const index = next++
      users[index] = await seedUser(baseUrl, index, runId)
    }
  }
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker))
  return users
}
