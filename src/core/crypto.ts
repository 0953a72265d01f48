import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A high-entropy opaque token (refresh, reset, verification): 32 random bytes, base64url. */
export const newOpaqueToken = (): string => randomBytes(32).toString('base64url')

/** Opaque tokens are stored only as their SHA-256; a database leak gives nothing usable. */
export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex')

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex')
  const right = Buffer.from(b, 'hex')
  return left.length === right.length && timingSafeEqual(left, right)
}
