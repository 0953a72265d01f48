// Sign-in and credential events in the audit log (PRODUCT.md §6). Entries name the user, the
// method and the client IP, never a password, token or code. Events that belong to a change
// (a session started, a password set) are written in that change's transaction.
import type { Executor } from '../../core/db.ts'
import { type AuditActor, type AuthAuditAction, anonymousActor, audit, userActor } from '../audit/audit.ts'
import type { LoginFailure } from './users.ts'

/** How someone proved who they are. */
export type SignInMethod = 'password' | 'login_code' | 'oauth_google' | 'oauth_github'

interface AuthEvent {
  action: AuthAuditAction
  /** The user the event is about; absent for an identifier that matches nobody. */
  userId?: string | null
  /** Who acted: the user for their own changes, anonymous for attempts not (yet) authenticated. */
  actor: AuditActor
  ip: string
  data?: Record<string, unknown>
  at: Date
}

export async function auditAuthEvent(executor: Executor, event: AuthEvent): Promise<void> {
  await audit(executor, {
    actor: event.actor,
    action: event.action,
    subjectType: 'user',
    subjectId: event.userId ?? null,
    data: { ip: event.ip, ...event.data },
    at: event.at,
  })
}

/** A successful sign-in that started session `sessionId`. */
export function auditSignIn(
  tx: Executor,
  event: { userId: string; sessionId: string; method: SignInMethod; ip: string; at: Date },
): Promise<void> {
  return auditAuthEvent(tx, {
    action: 'auth.sign_in',
    userId: event.userId,
    actor: userActor(event.userId),
    ip: event.ip,
    data: { method: event.method, session_id: event.sessionId },
    at: event.at,
  })
}

/**
 * A failed sign-in. For an unknown identifier no user is named and the identifier is kept (cut
 * to 254 characters) so an operator can see what was tried; the caller gets the same 401 either way,
 * and the row is written on both paths so the timing does not differ.
 */
export function auditSignInFailure(
  executor: Executor,
  event: {
    userId: string | undefined
    identifier: string
    method: SignInMethod
    reason: LoginFailure | 'wrong_code'
    ip: string
    at: Date
  },
): Promise<void> {
  return auditAuthEvent(executor, {
    action: 'auth.sign_in_failed',
    userId: event.userId ?? null,
    actor: anonymousActor,
    ip: event.ip,
    data: {
      method: event.method,
      reason: event.reason,
      ...(event.userId === undefined && { identifier: event.identifier.slice(0, 254) }),
    },
    at: event.at,
  })
}
