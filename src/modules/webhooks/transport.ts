// One webhook POST over HTTP(S), with the address rule applied where it cannot be dodged: the host
// name is resolved once, every address it resolves to is checked, and the socket is opened to the
// checked address itself (Host and SNI keep the name), so a DNS answer that changes between the
// check and the connection (rebinding) changes nothing. Redirects are never followed, and only the
// status is kept: a response body could carry whatever the target serves back to the admin.
import { lookup } from 'node:dns/promises'
import { request, STATUS_CODES } from 'node:http'
import { isIP, connect as netConnect } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import {
  bareHost,
  blockedAddressReason,
  isLocalhostName,
  type UrlPolicy,
  urlPolicyProblem,
} from './address-policy.ts'

/** Resolves a host name to its addresses (all of them). */
export type Resolver = (hostname: string) => Promise<string[]>

export interface ConnectTarget {
  /** The checked IP address the socket goes to. */
  address: string
  port: number
  tls: boolean
  /** The name for SNI and certificate checks (undefined when the URL holds an IP). */
  servername: string | undefined
}

/** Opens the socket of one delivery. */
export type Connector = (target: ConnectTarget) => Duplex

/** The two network primitives of a delivery, replaceable in tests. */
export interface WebhookNetwork {
  resolve: Resolver
  connect: Connector
}

export const systemNetwork: WebhookNetwork = {
  resolve: async (hostname) =>
    (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address),
  connect: ({ address, port, tls, servername }) =>
    tls
      ? tlsConnect({ host: address, port, ...(servername && { servername }), ALPNProtocols: ['http/1.1'] })
      : netConnect({ host: address, port }),
}

/** The outcome of one POST, as the delivery log keeps it: a status and a short reason, no body. */
export type Attempt =
  | { ok: true; status: number; durationMs: number }
  | { ok: false; status: number | null; error: string; durationMs: number }

export interface PostOptions {
  policy: UrlPolicy
  timeoutMs: number
  network: WebhookNetwork
}

/** A refusal by the address rule: nothing was sent. */
class RefusedDestination extends Error {}

class DeliveryTimeout extends Error {}

/** POSTs `body` once; never throws, never follows a redirect, never reads the response body. */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<Attempt> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  let timer: NodeJS.Timeout | undefined
  let abort: ((error: Error) => void) | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new DeliveryTimeout(`No response within ${options.timeoutMs / 1000} s`)
      abort?.(error)
      reject(error)
    }, options.timeoutMs)
  })
  try {
    const parsed = new URL(url)
    const target = await Promise.race([resolveTarget(parsed, options), deadline])
    const status = await Promise.race([
      send(parsed, target, body, headers, options.network, (cancel) => {
        abort = cancel
      }),
      deadline,
    ])
    if (status >= 200 && status < 300) return { ok: true, status, durationMs: elapsed() }
    const reason = STATUS_CODES[status] ?? 'Unknown status'
    const redirect = status >= 300 && status < 400 ? ' (redirect not followed)' : ''
    return { ok: false, status, error: `HTTP ${status} ${reason}${redirect}`, durationMs: elapsed() }
  } catch (error) {
    return { ok: false, status: null, error: describeFailure(error), durationMs: elapsed() }
  } finally {
    clearTimeout(timer)
  }
}

/** Where the socket goes: the URL's IP, or the first address of the name, all addresses checked. */
async function resolveTarget(url: URL, options: PostOptions): Promise<ConnectTarget> {
  const problem = urlPolicyProblem(url, options.policy)
  if (problem) throw new RefusedDestination(`Not sent: ${problem}`)
  const host = bareHost(url.hostname)
  const tls = url.protocol === 'https:'
  const port = url.port ? Number(url.port) : tls ? 443 : 80
  if (isIP(host) !== 0) return { address: host, port, tls, servername: undefined }
  if (!options.policy.allowPrivate && isLocalhostName(host)) {
    throw new RefusedDestination('Not sent: the host is localhost')
  }
  let addresses: string[]
  try {
    addresses = await options.network.resolve(host)
  } catch {
    throw new Error('DNS lookup failed')
  }
  const [first] = addresses
  if (!first) throw new Error('DNS lookup failed')
  if (!options.policy.allowPrivate) {
    // One internal address among several is enough to refuse: which one a client picks is not ours to bet on.
    for (const address of addresses) {
      const reason = blockedAddressReason(address)
      if (reason)
        throw new RefusedDestination(`Not sent: the host resolves to an internal address (${reason})`)
    }
  }
  return { address: first, port, tls, servername: host.replace(/\.$/, '') }
}

/** Sends the request on a socket to `target` and resolves with the response's status code. */
function send(
  url: URL,
  target: ConnectTarget,
  body: string,
  headers: Record<string, string>,
  network: WebhookNetwork,
  onCancel: (cancel: (error: Error) => void) => void,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request({
      method: 'POST',
      path: `${url.pathname}${url.search}`,
      headers: {
        ...headers,
        host: url.host,
        'content-length': String(Buffer.byteLength(body)),
        connection: 'close',
      },
      // No agent (none is used when createConnection is given): one socket per delivery, opened
      // by us to the checked address.
      createConnection: () => network.connect(target),
    })
    onCancel((error) => req.destroy(error))
    req.once('response', (res) => {
      resolve(res.statusCode ?? 0)
      // Nothing of the body is read or kept.
      res.destroy()
      req.destroy()
    })
    // `on`, not `once`: a socket may report a second error after the first, which must not go unheard.
    req.on('error', reject)
    req.end(body)
  })
}

/** A short, fixed description of a failure: never a message the other side could have chosen. */
function describeFailure(error: unknown): string {
  if (error instanceof RefusedDestination || error instanceof DeliveryTimeout) return error.message
  if (!(error instanceof Error)) return 'Delivery failed'
  if (error.message === 'DNS lookup failed') return error.message
  const code = (error as { code?: unknown }).code
  switch (code) {
    case 'ECONNREFUSED':
      return 'Connection refused'
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return 'Connection closed before a response'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'Host unreachable'
    case 'ETIMEDOUT':
      return 'Connection timed out'
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_INVALID_STATUS':
    case 'HPE_INVALID_HEADER_TOKEN':
      return 'Invalid HTTP response'
  }
  if (
    typeof code === 'string' &&
    (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL'))
  ) {
    return 'TLS handshake failed'
  }
  return 'Connection failed'
}
