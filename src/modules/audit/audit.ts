// The audit log is written by the code that makes a change, in the change's transaction, so an
// entry exists exactly when the change does.
import type { Executor } from '../../core/db.ts'
import { newId } from '../../core/ids.ts'
import { auditLog } from './tables.ts'

/** Who made a change: a signed-in user, the service itself (jobs, sweeps) or the payment provider. */
export type AuditActor =
  | { type: 'user'; userId: string }
  | { type: 'system'; userId?: undefined }
  | { type: 'provider'; userId?: undefined }

export interface AuditEntry {
  actor: AuditActor
  accountId?: string | null
  /** Dotted verb, e.g. `subscription.canceled`, `invoice.marked_paid`, `plan.updated`. */
  action: string
  subjectType: string
  subjectId?: string | null
  data?: Record<string, unknown>
  at: Date
}

export const systemActor: AuditActor = { type: 'system' }
export const providerActor: AuditActor = { type: 'provider' }
export const userActor = (userId: string): AuditActor => ({ type: 'user', userId })

export async function audit(tx: Executor, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId(),
    actorType: entry.actor.type,
    actorUserId: entry.actor.userId ?? null,
    accountId: entry.accountId ?? null,
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId ?? null,
    data: entry.data ?? {},
    createdAt: entry.at,
  })
}
