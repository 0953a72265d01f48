// Verifying plangate's outgoing webhooks. Each delivery is a POST whose `plangate-signature`
// header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (several `v1` while an
// endpoint's secret rotates). Verify the raw bytes as received, before any JSON parsing.
import { createHmac, timingSafeEqual } from 'node:crypto'

/** A webhook event as plangate sends it. */
export interface WebhookEvent<D = Record<string, unknown>> {
  id: string
  type: string
  created_at: string
  account_id: string | null
  data: D
}

export type WebhookSignatureReason =
  | 'missing_header'
  | 'malformed_header'
  | 'timestamp_out_of_tolerance'
  | 'no_matching_signature'
  | 'invalid_body'

/** A delivery that is not plangate's, was altered, or is too old; answer it with a 400. */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError'
  readonly status = 400
  readonly code = 'webhook_signature_invalid'
  constructor(
    readonly reason: WebhookSignatureReason,
    message: string,
  ) {
    super(message)
  }
}

export type WebhookHeaders =
  | Headers
  | Record<string, string | string[] | undefined>
  | { get(name: string): string | null }

function headerOf(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() !== name) continue
    return Array.isArray(value) ? value.join(',') : value
  }
  return undefined
}

export interface VerifyWebhookOptions {
  /** How far the signed timestamp may be from `now`, either way. */
  toleranceSeconds?: number
  now?: Date
}

/**
 * The event of a genuine delivery, or a thrown WebhookSignatureError. `rawBody` is the request
 * body exactly as received (a string or its bytes); `secret` is the endpoint's `whsec_…`.
 */
export function verifyWebhook<D = Record<string, unknown>>(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  { toleranceSeconds = 300, now = new Date() }: VerifyWebhookOptions = {},
): WebhookEvent<D> {
  const header = headerOf(headers, 'plangate-signature')
  if (!header) throw new WebhookSignatureError('missing_header', 'No plangate-signature header')
  let timestamp: number | undefined
  const candidates: Buffer[] = []
  for (const part of header.split(',')) {
    const at = part.indexOf('=')
    const name = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (at < 0) continue
    if (name === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    else if (name === 'v1' && /^[0-9a-f]{64}$/i.test(value)) candidates.push(Buffer.from(value, 'hex'))
  }
  if (timestamp === undefined || candidates.length === 0) {
    throw new WebhookSignatureError('malformed_header', 'The plangate-signature header has no t and v1')
  }
  if (Math.abs(Math.floor(now.getTime() / 1000) - timestamp) > toleranceSeconds) {
    throw new WebhookSignatureError(
      'timestamp_out_of_tolerance',
      'The signature is too old (or from the future)',
    )
  }
  const bytes = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(bytes).digest()
  // Every candidate is compared (constant time each), so the time spent says nothing about which matched.
  let matched = false
  for (const candidate of candidates) matched = timingSafeEqual(candidate, expected) || matched
  if (!matched) throw new WebhookSignatureError('no_matching_signature', 'No signature matches the body')
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as WebhookEvent<D>
  } catch {
    throw new WebhookSignatureError('invalid_body', 'The signed body is not JSON')
  }
}
