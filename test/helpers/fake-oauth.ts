// A local stand-in for Google and GitHub as OAuth 2.0 providers: a real HTTP server with the
// authorize, token and profile endpoints, checking what the real ones check (client credentials,
// single-use codes, redirect URI, the PKCE S256 verifier), plus switches to make it fail or hang.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type FakeProvider = 'google' | 'github'

/** A Google account as its userinfo endpoint shows it. */
export interface GoogleUser {
  sub: string
  email: string
  email_verified: boolean
  name?: string
  picture?: string
}

/** A GitHub account: `/user` (public email may be null) and the addresses of `/user/emails`. */
export interface GitHubUser {
  id: number
  login: string
  name: string | null
  email: string | null
  avatar_url: string
  emails: { email: string; primary: boolean; verified: boolean; visibility: 'public' | 'private' | null }[]
}

export type FailingEndpoint = 'token' | 'userinfo' | 'user' | 'emails'
export type FailureMode = 'error500' | 'hang'

export interface FakeOAuthOptions {
  google?: { clientId: string; clientSecret: string }
  github?: { clientId: string; clientSecret: string }
}

interface Grant {
  provider: FakeProvider
  clientId: string
  redirectUri: string
  codeChallenge: string
  user: GoogleUser | GitHubUser
}

export interface FakeOAuth {
  url: string
  /** Env for buildTestApp pointing both providers at this fake. */
  env: Record<string, string>
  /**
   * Plays the user consenting at the authorize endpoint of `authorizationUrl` (as returned by the
   * app's /start), signed in as `user`; returns the callback URL the provider redirects to.
   */
  authorize(authorizationUrl: string, options: { user: GoogleUser | GitHubUser }): Promise<string>
  /** Plays the user declining: the callback URL with `error=access_denied`. */
  deny(authorizationUrl: string): Promise<string>
  /** What the authorize endpoint saw last (state, code_challenge, redirect_uri, scope, ...). */
  lastAuthorization: URLSearchParams | undefined
  /** Makes an endpoint answer 500, or never answer, until `reset()`. */
  fail(endpoint: FailingEndpoint, mode: FailureMode): void
  /** Requests received, as `METHOD /path`. */
  requests: string[]
  reset(): void
  close(): Promise<void>
}

const base64url = (buffer: Buffer) => buffer.toString('base64url')
const s256 = (verifier: string) => base64url(createHash('sha256').update(verifier).digest())

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

/** Client credentials from HTTP Basic (client_secret_basic) or the form (client_secret_post). */
function clientCredentials(req: IncomingMessage, form: URLSearchParams) {
  const header = req.headers.authorization ?? ''
  if (header.startsWith('Basic ')) {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) }
  }
  return { id: form.get('client_id') ?? '', secret: form.get('client_secret') ?? '' }
}

export async function startFakeOAuth(options: FakeOAuthOptions = {}): Promise<FakeOAuth> {
  const clients = {
    google: options.google ?? { clientId: 'google-client-id', clientSecret: 'google-client-secret' },
    github: options.github ?? { clientId: 'github-client-id', clientSecret: 'github-client-secret' },
  }
  const pendingUsers = new Map<string, GoogleUser | GitHubUser>()
  const grants = new Map<string, Grant>()
  const accessTokens = new Map<string, { provider: FakeProvider; user: GoogleUser | GitHubUser }>()
  const failures = new Map<FailingEndpoint, FailureMode>()
  const hung = new Set<ServerResponse>()
  const requests: string[] = []

  /** Answers the failure switched on for `endpoint`, if any; returns whether it did. */
  function failed(endpoint: FailingEndpoint, res: ServerResponse): boolean {
    const mode = failures.get(endpoint)
    if (mode === 'error500') {
      res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>Internal secret provider detail</h1>')
      return true
    }
    if (mode === 'hang') {
      hung.add(res)
      return true
    }
    return false
  }

  function authorizeEndpoint(provider: FakeProvider, query: URLSearchParams, res: ServerResponse) {
    fake.lastAuthorization = query
    const redirectUri = query.get('redirect_uri')
    const state = query.get('state')
    const problems = [
      query.get('client_id') !== clients[provider].clientId && 'unknown client_id',
      query.get('response_type') !== 'code' && 'response_type must be code',
      !redirectUri && 'redirect_uri missing',
      !state && 'state missing',
      query.get('code_challenge_method') !== 'S256' && 'code_challenge_method must be S256',
      !/^[A-Za-z0-9_-]{43}$/.test(query.get('code_challenge') ?? '') && 'code_challenge malformed',
    ].filter(Boolean)
    if (problems.length > 0 || !redirectUri || !state) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(problems.join('; '))
      return
    }
    const callback = new URL(redirectUri)
    callback.searchParams.set('state', state)
    const login = query.get('login_as')
    const user = login ? pendingUsers.get(login) : undefined
    pendingUsers.delete(login ?? '')
    if (!user) {
      callback.searchParams.set('error', 'access_denied')
    } else {
      const code = base64url(randomBytes(24))
      grants.set(code, {
        provider,
        clientId: clients[provider].clientId,
        redirectUri,
        codeChallenge: query.get('code_challenge') ?? '',
        user,
      })
      callback.searchParams.set('code', code)
    }
    res.writeHead(302, { location: callback.toString() }).end()
  }

  async function tokenEndpoint(provider: FakeProvider, req: IncomingMessage, res: ServerResponse) {
    const form = new URLSearchParams(await readBody(req))
    if (failed('token', res)) return
    // Google answers 400 with an OAuth error; GitHub answers 200 with an `error` member.
    const refuse = (error: string, status = 400) =>
      provider === 'github' ? json(res, 200, { error }) : json(res, status, { error })
    const credentials = clientCredentials(req, form)
    if (
      credentials.id !== clients[provider].clientId ||
      credentials.secret !== clients[provider].clientSecret
    ) {
      return refuse(provider === 'github' ? 'incorrect_client_credentials' : 'invalid_client', 401)
    }
    const invalidGrant = provider === 'github' ? 'bad_verification_code' : 'invalid_grant'
    const code = form.get('code') ?? ''
    const grant = grants.get(code)
    // Codes are single use, whatever the outcome.
    grants.delete(code)
    if (
      form.get('grant_type') !== 'authorization_code' ||
      !grant ||
      grant.provider !== provider ||
      grant.redirectUri !== form.get('redirect_uri') ||
      s256(form.get('code_verifier') ?? '') !== grant.codeChallenge
    ) {
      return refuse(invalidGrant)
    }
    const accessToken = `${provider === 'github' ? 'gho_' : 'ya29.'}${base64url(randomBytes(24))}`
    accessTokens.set(accessToken, { provider, user: grant.user })
    if (provider === 'github') {
      return json(res, 200, {
        access_token: accessToken,
        token_type: 'bearer',
        scope: 'read:user,user:email',
      })
    }
    return json(res, 200, {
      access_token: accessToken,
      expires_in: 3599,
      token_type: 'Bearer',
      scope:
        'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
      id_token: 'not-checked-by-the-app',
    })
  }

  function bearerUser(req: IncomingMessage, provider: FakeProvider) {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? ''
    const found = accessTokens.get(token)
    return found?.provider === provider ? found.user : undefined
  }

  function profileEndpoint(path: string, req: IncomingMessage, res: ServerResponse) {
    if (path === '/google/userinfo') {
      if (failed('userinfo', res)) return
      const user = bearerUser(req, 'google') as GoogleUser | undefined
      if (!user) return json(res, 401, { error: 'invalid_request' })
      return json(res, 200, { ...user, given_name: user.name?.split(' ')[0] })
    }
    // GitHub refuses API requests without a User-Agent.
    if (!req.headers['user-agent']) return json(res, 403, { message: 'User-Agent required' })
    const user = bearerUser(req, 'github') as GitHubUser | undefined
    if (path === '/github/api/user') {
      if (failed('user', res)) return
      if (!user) return json(res, 401, { message: 'Bad credentials' })
      const { emails: _emails, ...shown } = user
      return json(res, 200, { ...shown, node_id: `U_${user.id}`, type: 'User', site_admin: false })
    }
    if (failed('emails', res)) return
    if (!user) return json(res, 401, { message: 'Bad credentials' })
    return json(res, 200, user.emails)
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    requests.push(`${req.method} ${url.pathname}`)
    const route = `${req.method} ${url.pathname}`
    const handle = async () => {
      switch (route) {
        case 'GET /google/authorize':
          return authorizeEndpoint('google', url.searchParams, res)
        case 'GET /github/authorize':
          return authorizeEndpoint('github', url.searchParams, res)
        case 'POST /google/token':
          return tokenEndpoint('google', req, res)
        case 'POST /github/token':
          return tokenEndpoint('github', req, res)
        case 'GET /google/userinfo':
        case 'GET /github/api/user':
        case 'GET /github/api/user/emails':
          return profileEndpoint(url.pathname, req, res)
        default:
          return json(res, 404, { error: 'not_found' })
      }
    }
    handle().catch((error: unknown) => {
      res.writeHead(500).end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  async function visit(authorizationUrl: string, login?: string): Promise<string> {
    const target = new URL(authorizationUrl)
    if (login) target.searchParams.set('login_as', login)
    const res = await fetch(target, { redirect: 'manual' })
    const location = res.headers.get('location')
    if (res.status !== 302 || !location) {
      throw new Error(`authorize refused (${res.status}): ${await res.text()}`)
    }
    return location
  }

  const fake: FakeOAuth = {
    url,
    env: {
      GOOGLE_CLIENT_ID: clients.google.clientId,
      GOOGLE_CLIENT_SECRET: clients.google.clientSecret,
      GOOGLE_AUTHORIZATION_URL: `${url}/google/authorize`,
      GOOGLE_TOKEN_URL: `${url}/google/token`,
      GOOGLE_USERINFO_URL: `${url}/google/userinfo`,
      GITHUB_CLIENT_ID: clients.github.clientId,
      GITHUB_CLIENT_SECRET: clients.github.clientSecret,
      GITHUB_AUTHORIZATION_URL: `${url}/github/authorize`,
      GITHUB_TOKEN_URL: `${url}/github/token`,
      GITHUB_API_URL: `${url}/github/api`,
    },
    lastAuthorization: undefined,
    requests,
    authorize(authorizationUrl, { user }) {
      const login = base64url(randomBytes(9))
      pendingUsers.set(login, user)
      return visit(authorizationUrl, login)
    },
    deny: (authorizationUrl) => visit(authorizationUrl),
    fail(endpoint, mode) {
      failures.set(endpoint, mode)
    },
    reset() {
      failures.clear()
      for (const res of hung) res.destroy()
      hung.clear()
      requests.length = 0
    },
    async close() {
      fake.reset()
      server.closeAllConnections()
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      )
    },
  }
  return fake
}
