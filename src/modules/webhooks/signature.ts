// The `plangate-signature` header, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<raw body>">`. The timestamp is signed with the body, so a captured request cannot be
// replayed later than the receiver's tolerance.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A new endpoint secret: `whsec_` and 32 random bytes, hex. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('hex')}`

const hmac = (secret: string, timestamp: number, body: string): string =>
  createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')

/** The header value for `body` sent at `at`. */
export function signatureHeader(body: string, secret: string, at: Date): string {
  const timestamp = Math.floor(at.getTime() / 1000)
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`
}

/**
 * Whether `header` is a valid signature of the raw `body` with `secret`, made at most
 * `toleranceSeconds` from `now`. Any `v1` entry may match (several are sent during a secret
 * rotation); the comparison is constant-time.
 */
export function verifySignature(
  header: string | undefined,
  body: string,
  secret: string,
  toleranceSeconds: number,
  now: Date = new Date(),
): boolean {
  if (!header) return false
  let timestamp: number | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2)
    if (name === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    else if (name === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value)
  }
  if (timestamp === undefined || signatures.length === 0) return false
  if (Math.abs(Math.floor(now.getTime() / 1000) - timestamp) > toleranceSeconds) return false
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex')
  return signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected))
}
