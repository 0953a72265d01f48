// The audit log is written by the code that makes a change, in the change's transaction, so an
// entry exists exactly when the change does. Auth events that change nothing (a failed sign-in, a
// rate-limit lockout) are written on their own.
import type { Executor } from '../../core/db.ts'
import { newId } from '../../core/ids.ts'
import { auditLog } from './tables.ts'

/**
 * Who made a change: a signed-in user, an API key, the service itself (jobs, sweeps), the payment
 * provider, or an unauthenticated caller (a failed sign-in, a rate-limited request).
 */
export type AuditActor =
  | { type: 'user'; userId: string; keyId?: undefined }
  | { type: 'key'; keyId: string; userId?: undefined }
  | { type: 'system'; userId?: undefined; keyId?: undefined }
  | { type: 'provider'; userId?: undefined; keyId?: undefined }
  | { type: 'anonymous'; userId?: undefined; keyId?: undefined }

export const auditActorTypes = ['user', 'key', 'system', 'provider', 'anonymous'] as const
export type AuditActorType = (typeof auditActorTypes)[number]

/** Sign-in and credential events (PRODUCT.md §6). None of them carries a password, token or code. */
export const authAuditActions = [
  'auth.sign_in',
  'auth.sign_in_failed',
  'auth.refresh_reuse_detected',
  'auth.logout',
  'auth.password_reset',
  'auth.password_changed',
  'auth.deactivated',
  'auth.oauth_linked',
  'auth.rate_limited',
] as const
export type AuthAuditAction = (typeof authAuditActions)[number]

/**
 * Every action the audit log records. Subscription actions are `subscription.<change>`, the change
 * kinds being those of the subscription history.
 */
export type AuditAction =
  | AuthAuditAction
  | 'account.created'
  | 'account.updated'
  | 'member.removed'
  | 'member.left'
  | 'plan.created'
  | 'plan.updated'
  | 'plan.retired'
  | 'invoice.created'
  | 'invoice.paid'
  | 'invoice.payment_failed'
  | 'webhook_endpoint.created'
  | 'webhook_endpoint.deleted'
  | 'webhook_delivery.retried'
  | 'job.retried'
  | 'member.role_changed'
  | 'invitation.created'
  | 'invitation.refreshed'
  | 'invitation.revoked'
  | 'invitation.accepted'
  | 'api_key.created'
  | 'api_key.revoked'
  | `subscription.${string}`

export interface AuditEntry {
  actor: AuditActor
  accountId?: string | null
  action: AuditAction
  subjectType: string
  subjectId?: string | null
  data?: Record<string, unknown>
  at: Date
}

export const systemActor: AuditActor = { type: 'system' }
export const providerActor: AuditActor = { type: 'provider' }
export const anonymousActor: AuditActor = { type: 'anonymous' }
export const userActor = (userId: string): AuditActor => ({ type: 'user', userId })
export const keyActor = (keyId: string): AuditActor => ({ type: 'key', keyId })

export async function audit(tx: Executor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId(),
    actorType: entry.actor.type,
    actorUserId: entry.actor.userId ?? null,
    actorKeyId: entry.actor.keyId ?? null,
    accountId: entry.accountId ?? null,
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId ?? null,
    data: entry.data ?? {},
    createdAt: entry.at,
  })
}
