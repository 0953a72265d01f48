// Access tokens: short-lived JWTs signed with an asymmetric key (EdDSA by default) that carries a
// `kid`; verifiers accept only that algorithm, so `none` and HS/RS confusion are refused.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { eq } from 'drizzle-orm'
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose'
import type { Db } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import { signingKeys } from './tables.ts'

export interface AccessClaims {
  userId: string
  /** The sign-in (refresh family) the token was issued for. */
  sessionId: string
}

export interface TokenService {
  sign(claims: AccessClaims, now: Date): Promise<string>
  verify(token: string, now: Date): Promise<AccessClaims>
  jwks(): JSONWebKeySet
  ttlSeconds: number
}

interface SigningKey {
  kid: string
  algorithm: 'EdDSA' | 'ES256' | 'ES384' | 'RS256'
  privateKey: KeyObject
  publicJwk: JWK
}

function algorithmFor(key: KeyObject): SigningKey['algorithm'] {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'EdDSA'
    case 'rsa':
      return 'RS256'
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return 'ES256'
      if (curve === 'secp384r1') return 'ES384'
      break
    }
  }
  throw new Error(
    `JWT_PRIVATE_KEY: unsupported key type ${key.asymmetricKeyType} (use Ed25519, P-256, P-384 or RSA)`,
  )
}

async function describeKey(privateKey: KeyObject): Promise<SigningKey> {
  const algorithm = algorithmFor(privateKey)
  const publicJwk = await exportJWK(createPublicKey(privateKey))
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, algorithm, privateKey, publicJwk: { ...publicJwk, kid, alg: algorithm, use: 'sig' } }
}

/**
 * The signing key: JWT_PRIVATE_KEY when given, otherwise one generated on first start and kept in
 * the database (the partial unique index makes concurrent first starts agree on one key).
 */
export async function loadSigningKey(db: Db, pem: string | undefined): Promise<SigningKey> {
  if (pem) return describeKey(createPrivateKey(pem.replace(/\\n/g, '\n')))
  const [existing] = await db.select().from(signingKeys).where(eq(signingKeys.isCurrent, true))
  if (existing) return describeKey(createPrivateKey(existing.privateKey))
  const { privateKey } = generateKeyPairSync('ed25519')
  const generated = await describeKey(privateKey)
  await db
    .insert(signingKeys)
    .values({
      kid: generated.kid,
      algorithm: generated.algorithm,
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicJwk: generated.publicJwk,
      isCurrent: true,
    })
    .onConflictDoNothing()
  const [current] = await db.select().from(signingKeys).where(eq(signingKeys.isCurrent, true))
  if (!current) throw new Error('no current signing key after generating one')
  return describeKey(createPrivateKey(current.privateKey))
}

// Verified tokens are remembered (token → subject and expiry) so a client's repeated requests pay
// for one signature check. Only successful verifications are cached, and expiry is re-checked.
const verifiedCacheSize = 10_000

export function createTokenService(
  key: SigningKey,
  options: { issuer: string; ttlSeconds: number },
): TokenService {
  const jwks: JSONWebKeySet = { keys: [key.publicJwk] }
  const keySet = createLocalJWKSet(jwks)
  const audience = 'plangate'
  const verified = new Map<string, AccessClaims & { expiresAt: number }>()
  return {
    ttlSeconds: options.ttlSeconds,
    async sign({ userId, sessionId }, now) {
      const issuedAt = Math.floor(now.getTime() / 1000)
      return new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt' })
        .setSubject(userId)
        .setIssuer(options.issuer)
        .setAudience(audience)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .setJti(newId())
        .sign(key.privateKey)
    },
    async verify(token, now) {
      const cached = verified.get(token)
      if (cached) {
        if (cached.expiresAt > now.getTime() / 1000)
          return { userId: cached.userId, sessionId: cached.sessionId }
        verified.delete(token)
      }
      try {
        const { payload } = await jwtVerify(token, keySet, {
          algorithms: [key.algorithm],
          issuer: options.issuer,
          audience,
          typ: 'at+jwt',
          requiredClaims: ['sub', 'exp', 'iat'],
          currentDate: now,
        })
        const claims = {
          userId: payload.sub as string,
          sessionId: typeof payload.sid === 'string' ? payload.sid : '',
        }
        // Insertion order makes the Map a FIFO: dropping the oldest entry bounds the memory.
        if (verified.size >= verifiedCacheSize) verified.delete(verified.keys().next().value as string)
        verified.set(token, { ...claims, expiresAt: payload.exp as number })
        return claims
      } catch {
        throw new AppError('unauthorized', 'The access token is invalid or expired')
      }
    },
    jwks: () => jwks,
  }
}
