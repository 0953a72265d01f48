// Seeding through the public HTTP API: the admin creates the `bench` plan, then each user registers,
// logs in, creates an account (time zones mixed) and subscribes it to the plan.
import { BenchError, benchPlanCode, bookingsPerDay } from './config.ts'
import { adminEmail, adminPassword } from './service.ts'

export interface SeededUser {
  userId: string
  /** The sign-in the token belongs to (its `sid`): the limited-create statement checks it is live. */
  sessionId: string
  accountId: string
  timezone: string
  token: string
}

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

async function call<T>(
  baseUrl: string,
  method: 'GET' | 'POST',
  path: string,
  expected: number,
  options: { token?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  })
  const text = await res.text()
  if (res.status !== expected) {
    throw new BenchError(`seeding: ${method} ${path} answered ${res.status} (expected ${expected}): ${text}`)
  }
  return JSON.parse(text) as T
}

async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const body = await call<{ access_token: string }>(baseUrl, 'POST', '/v1/auth/token', 200, {
    body: { username, password },
  })
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
  await call(baseUrl, 'POST', '/v1/auth/register', 202, { body: { email, password: userPassword } })
  const token = await login(baseUrl, email, userPassword)
  const user = await call<{ id: string }>(baseUrl, 'GET', '/v1/me', 200, { token })
  const timezone = timezones[index % timezones.length] ?? 'UTC'
  const account = await call<{ id: string }>(baseUrl, 'POST', '/v1/accounts', 201, {
    token,
    body: { name: `Bench ${index}`, timezone },
  })
  await call(baseUrl, 'POST', `/v1/accounts/${account.id}/subscription`, 201, {
    token,
    body: { plan: benchPlanCode },
  })
  return { userId: user.id, sessionId: sessionOf(token), accountId: account.id, timezone, token }
}

/** Creates the plan and `count` subscribed users; a few at a time (argon2 hashing is the slow part). */
export async function seedThroughApi(baseUrl: string, count: number): Promise<SeededUser[]> {
  const adminToken = await login(baseUrl, adminEmail, adminPassword)
  await call(baseUrl, 'POST', '/v1/plans', 201, {
    token: adminToken,
    body: {
      code: benchPlanCode,
      name: 'Bench',
      price_cents: 0,
      limits: { staff: 5, bookings_per_day: bookingsPerDay },
    },
  })
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
