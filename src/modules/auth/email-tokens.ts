// Single-use secrets sent by email: verification and reset tokens (high-entropy, in links) and
// login codes (6 digits, 10 minutes, 5 tries). Only their SHA-256 is stored. They are created by
// the job that sends the mail, so the plain secret never rests in the job queue either.
import { randomInt } from 'node:crypto'
import { and, eq, gt, isNull, lt, sql } from 'drizzle-orm'
import { digestsEqual, newOpaqueToken, sha256 } from '../../core/crypto.ts'
import type { Executor } from '../../core/db.ts'
import { AppError } from '../../core/errors.ts'
import { newId } from '../../core/ids.ts'
import { loginCodes, userTokens } from './tables.ts'

export type TokenPurpose = 'verify_email' | 'reset_password'

export const tokenLifetimeMinutes: Record<TokenPurpose, number> = {
  verify_email: 24 * 60,
  reset_password: 30,
}
export const loginCodeMinutes = 10
export const loginCodeMaxAttempts = 5

const minutesAfter = (now: Date, minutes: number) => new Date(now.getTime() + minutes * 60_000)

/** A new token for the purpose; earlier unused ones of the same purpose stop working. */
export async function issueUserToken(
  tx: Executor,
  userId: string,
  purpose: TokenPurpose,
  now: Date,
): Promise<string> {
  await tx
    .update(userTokens)
    .set({ usedAt: now })
    .where(and(eq(userTokens.userId, userId), eq(userTokens.purpose, purpose), isNull(userTokens.usedAt)))
  const token = newOpaqueToken()
  await tx.insert(userTokens).values({
    id: newId(),
    userId,
    purpose,
    tokenHash: sha256(token),
    expiresAt: minutesAfter(now, tokenLifetimeMinutes[purpose]),
    createdAt: now,
  })
  return token
}

/**
 * Spends a token: one atomic UPDATE marks it used only if it is unused and unexpired, so two
 * concurrent uses cannot both succeed. Returns the user id, or throws 400.
 */
export async function consumeUserToken(
  tx: Executor,
  token: string,
  purpose: TokenPurpose,
  now: Date,
): Promise<string> {
  const [row] = await tx
    .update(userTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(userTokens.tokenHash, sha256(token)),
        eq(userTokens.purpose, purpose),
        isNull(userTokens.usedAt),
        gt(userTokens.expiresAt, now),
      ),
    )
    .returning({ userId: userTokens.userId })
  if (!row) {
    throw new AppError('validation_failed', 'The token is invalid, expired or already used', {
      errors: [{ location: 'body.token', message: 'invalid, expired or already used' }],
    })
  }
  return row.userId
}

/** A new 6-digit login code for the user, replacing any pending one (and its try count). */
export async function issueLoginCode(tx: Executor, userId: string, now: Date): Promise<string> {
  const code = randomInt(0, 1_000_000).toString().padStart(6, '0')
  const values = {
    codeHash: sha256(`${userId}:${code}`),
    expiresAt: minutesAfter(now, loginCodeMinutes),
    attempts: 0,
    createdAt: now,
  }
  await tx
    .insert(loginCodes)
    .values({ userId, ...values })
    .onConflictDoUpdate({ target: loginCodes.userId, set: values })
  return code
}

/**
 * Checks a login code. Each try is counted by an atomic UPDATE before comparing, so at most
 * `loginCodeMaxAttempts` guesses are ever compared, however many arrive at once. A match
 * deletes the code (single use).
 */
export async function verifyLoginCode(
  tx: Executor,
  userId: string | undefined,
  code: string,
  now: Date,
): Promise<boolean> {
  if (!userId) return false
  const [pending] = await tx
    .update(loginCodes)
    .set({ attempts: sql`${loginCodes.attempts} + 1` })
    .where(
      and(
        eq(loginCodes.userId, userId),
        gt(loginCodes.expiresAt, now),
        lt(loginCodes.attempts, loginCodeMaxAttempts),
      ),
    )
    .returning({ codeHash: loginCodes.codeHash })
  if (!pending || !digestsEqual(pending.codeHash, sha256(`${userId}:${code}`))) return false
  const deleted = await tx
    .delete(loginCodes)
    .where(and(eq(loginCodes.userId, userId), eq(loginCodes.codeHash, pending.codeHash)))
    .returning({ userId: loginCodes.userId })
  return deleted.length > 0
}
