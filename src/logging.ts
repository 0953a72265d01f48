// The process logger. No secret reaches a log line: credential fields are redacted by path, and
// secret query parameters (an OAuth callback's `code` and `state`, any `token=`) are masked in
// every URL written to the log, the request line and error messages alike.
import { type DestinationStream, type Logger, type LoggerOptions, pino, stdSerializers } from 'pino'

// Log fields that must never reach a log line: credentials, tokens and codes.
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.refresh_token',
  '*.access_token',
  '*.token',
  '*.code',
  '*.key',
]

/** Query parameters whose value is masked wherever a URL is logged (compared case-insensitively). */
const secretParams = new Set([
  'token',
  'code',
  'state',
  'password',
  'secret',
  'key',
  'signature',
  'sig',
  'code_verifier',
  'code_challenge',
])
// …and any parameter named like a credential: access_token, id_token, client_secret, api_key, new_password.
const secretSuffix = /(token|secret|password|key)$/

export const redacted = '[redacted]'

function isSecretParam(rawName: string): boolean {
  let name = rawName
  try {
    name = decodeURIComponent(rawName.replace(/\+/g, ' '))
  } catch {
    // a malformed name is compared as sent
  }
  // `token[]=`, `code[a]=` and `token%00=` reach the same parsers as `token=`: judged by the name
  // before any bracket, without control characters.
  name = name
    .replace(/\p{Cc}/gu, '')
    .replace(/\[.*$/, '')
    .trim()
    .toLowerCase()
  return secretParams.has(name) || secretSuffix.test(name)
}

// `?name=value` or `&name=value` anywhere in a text; the value runs to the next separator or space.
const queryParam = /([?&;])([^=&#?\s;]+)=([^&#\s;"'<>]*)/g

/** Masks the values of secret query parameters in a URL, or in any text that contains URLs. */
export function redactQuery(text: string): string {
  if (!text.includes('=')) return text
  return text.replace(queryParam, (match, separator: string, name: string) =>
    isSecretParam(name) ? `${separator}${name}=${redacted}` : match,
  )
}

interface LoggedRequest {
  method?: string
  url?: string
  host?: string
  ip?: string
  socket?: { remoteAddress?: string; remotePort?: number }
}

/** The request as logged: Fastify's usual fields, with the URL's secret parameters masked. */
function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: redactQuery(req.url ?? ''),
    host: req.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  }
}

/** An error as logged: pino's usual fields, with URLs in the message and stack masked. */
function serializeError(error: Error) {
  const serialized = stdSerializers.err(error)
  if (typeof serialized.message === 'string') serialized.message = redactQuery(serialized.message)
  if (typeof serialized.stack === 'string') serialized.stack = redactQuery(serialized.stack)
  return serialized
}

export const logSerializers: LoggerOptions['serializers'] = { req: serializeRequest, err: serializeError }

/** The logger of the server and the CLI; tests pass a destination to read what would be written. */
export function createLogger(level: LoggerOptions['level'], destination?: DestinationStream): Logger {
  const options: LoggerOptions = { level, redact: redactPaths, serializers: logSerializers }
  return destination ? pino(options, destination) : pino(options)
}
