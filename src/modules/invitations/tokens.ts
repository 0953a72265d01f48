// The invitation link's secret. It is made by the job that sends the email, so the plain token
// never rests in the database or the job queue; the row keeps only its SHA-256.
import { and, eq, gt, sql } from 'drizzle-orm'
import { newOpaqueToken, sha256 } from '../../core/crypto.ts'
import type { Executor } from '../../core/db.ts'
import type { Role } from '../accounts/roles.ts'
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import { invitations } from './tables.ts'

export interface IssuedInvitation {
  token: string
  email: string
  role: Role
  accountName: string
  inviter: string | null
  expiresAt: Date
}

/**
 * A fresh token for the invitation's current version, replacing the previous one, or undefined
 * when the invitation was refreshed since (the newer job sends), accepted, revoked or has expired.
 */
export async function issueInvitationToken(
  tx: Executor,
  invitationId: string,
  version: number,
  now: Date,
): Promise<IssuedInvitation | undefined> {
  const token = newOpaqueToken()
  const [row] = await tx
    .update(invitations)
    .set({ tokenHash: sha256(token) })
    .where(
      and(
        eq(invitations.id, invitationId),
        eq(invitations.version, version),
        eq(invitations.status, 'pending'),
        gt(invitations.expiresAt, now),
      ),
    )
    .returning({
      email: invitations.email,
      role: invitations.role,
      accountId: invitations.accountId,
      invitedBy: invitations.invitedBy,
      expiresAt: invitations.expiresAt,
    })
  if (!row) return undefined
  const [account] = await tx
    .select({ name: accounts.name })
    .from(accounts)
    .where(eq(accounts.id, row.accountId))
  const [inviter] = row.invitedBy
    ? await tx
        .select({ label: sql<string>`coalesce(${users.name}, ${users.email})` })
        .from(users)
        .where(eq(users.id, row.invitedBy))
    : []
  return {
    token,
    email: row.email,
    role: row.role,
    accountName: account?.name ?? 'an account',
    inviter: inviter?.label ?? null,
    expiresAt: row.expiresAt,
  }
}
