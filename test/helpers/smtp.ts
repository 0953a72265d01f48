// A real SMTP server for tests: it accepts every message on 127.0.0.1 (no TLS; AUTH optional and any
// credentials accepted), parses it with mailparser and keeps it, so tests read what a mail client
// would have received.
import { EventEmitter } from 'node:events'
import type { AddressInfo } from 'node:net'
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface ReceivedMail {
  /** The To header as text, e.g. `user@example.test`. */
  to: string
  /** The From header as text, e.g. `plangate <no-reply@plangate.test>`. */
  from: string
  subject: string
  text: string
  html: string
  headers: ParsedMail['headers']
  /** The SMTP envelope's recipients (RCPT TO). */
  envelopeTo: string[]
  /** The user name the client authenticated with, if it did. */
  authUser: string | undefined
}

export interface SmtpSink {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL. */
  url: string
  port: number
  /** Every message received since the last `clear()`, oldest first. */
  messages: ReceivedMail[]
  /** The first message (received already or later) that matches, or a rejection after `timeoutMs`. */
  waitFor(
    predicate: (message: ReceivedMail) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<ReceivedMail>
  clear(): void
  close(): Promise<void>
}

const addressText = (value: AddressObject | AddressObject[] | undefined) =>
  value === undefined
    ? ''
    : (Array.isArray(value) ? value : [value]).map((address) => address.text).join(', ')

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ReceivedMail[] = []
  const arrivals = new EventEmitter()
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' })
    },
    // The message is parsed and kept before the server acknowledges it, so once the client's
    // send has resolved the message is already in `messages`.
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const message: ReceivedMail = {
            to: addressText(parsed.to),
            from: addressText(parsed.from),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            headers: parsed.headers,
            envelopeTo: session.envelope.rcptTo.map((recipient) => recipient.address),
            authUser: typeof session.user === 'string' ? session.user : undefined,
          }
          messages.push(message)
          arrivals.emit('message', message)
          callback()
        })
        .catch((error: Error) => callback(error))
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.server.address() as AddressInfo

  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    waitFor(predicate, { timeoutMs = 5_000 } = {}) {
      const found = messages.find(predicate)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const onMessage = (message: ReceivedMail) => {
          if (!predicate(message)) return
          clearTimeout(timer)
          arrivals.off('message', onMessage)
          resolve(message)
        }
        const timer = setTimeout(() => {
          arrivals.off('message', onMessage)
          const seen = messages.map((message) => `${message.to}: ${message.subject}`).join('; ') || 'none'
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ${seen})`))
        }, timeoutMs)
        arrivals.on('message', onMessage)
      })
    },
    clear() {
      messages.length = 0
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * The `token` query parameter of the first link in `text` that points under `appUrl` (the test
 * app's APP_URL by default) and carries one.
 */
export function linkToken(text: string, appUrl = 'http://plangate.test'): string {
  for (const [candidate] of text.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
    if (!candidate.startsWith(appUrl)) continue
    const token = new URL(candidate).searchParams.get('token')
    if (token) return token
  }
  throw new Error(`no ${appUrl} link with a token in:\n${text}`)
}

/** The first run of 6 or more digits in `text`: the login code. */
export function loginCode(text: string): string {
  const match = /(?<!\d)(\d{6,})(?!\d)/.exec(text)
  if (!match?.[1]) throw new Error(`no login code in:\n${text}`)
  return match[1]
}
