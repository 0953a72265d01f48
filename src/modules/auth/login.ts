// Sign-in with a password (the token endpoint's password grant).
import { AppError } from '../../core/errors.ts'
import { auditSignIn, auditSignInFailure } from './auth-audit.ts'
import type { AuthContext } from './context.ts'
import { type IssuedRefresh, sessionPolicy, startSession } from './sessions.ts'
import { checkPasswordLogin } from './users.ts'

/**
 * Signs in with an identifier (email or username) and a password, and starts a session. An
 * unknown user, a wrong password and a deactivated user are audited (with the reason) and all
 * answered with the same 401.
 */
export async function signInWithPassword(
  ctx: Pick<AuthContext, 'config' | 'db' | 'clock'>,
  credentials: { identifier: string; password: string },
  ip: string,
): Promise<IssuedRefresh> {
  const { identifier, password } = credentials
  const now = ctx.clock.now()
  // Looked up and verified before any transaction: argon2 never runs while a connection is held.
  const login = await checkPasswordLogin(ctx.db, identifier, password)
  if (!login.ok) {
    await auditSignInFailure(ctx.db, {
      userId: login.user?.id,
      identifier,
      method: 'password',
      reason: login.reason,
      ip,
      at: now,
    })
    throw new AppError('unauthorized', 'Invalid username or password')
  }
  return ctx.db.transaction(async (tx) => {
    const session = await startSession(tx, login.user.id, sessionPolicy(ctx.config), now)
    await auditSignIn(tx, {
      userId: login.user.id,
      sessionId: session.familyId,
      method: 'password',
      ip,
      at: now,
    })
    return session
  })
}
