// People join an account by invitation only: an email with a single-use link, valid 7 days,
// accepted by the signed-in user who owns that (verified) address. Inviting answers the same
// whatever the address, so it never tells whether the address has a user.
import { and, desc, eq, gt, lt, lte, type SQL, sql } from 'drizzle-orm'
import { sha256 } from '../../core/crypto.ts'
import { type Executor, queryRow } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import { getAccount } from '../accounts/accounts.ts'
import { addMembership, isMemberByEmail } from '../accounts/members.ts'
import type { Role } from '../accounts/roles.ts'
import { type AuditActor, audit, userActor } from '../audit/audit.ts'
import { getUser } from '../auth/users.ts'
import type { JobSender } from '../jobs/queue.ts'
import { sendInvitationEmail } from './jobs.ts'
import type {
  AcceptedInvitation,
  CreateInvitationBody,
  Invitation,
  InvitationStatus,
  ListInvitationsQuery,
} from './schemas.ts'
import { invitations } from './tables.ts'

export const invitationLifetimeDays = 7

type InvitationRow = typeof invitations.$inferSelect

/** The status a client sees: a pending invitation past its expiry reads `expired`. */
function statusOf(row: InvitationRow, now: Date): InvitationStatus {
  if (row.status === 'pending' && row.expiresAt <= now) return 'expired'
  return row.status as InvitationStatus
}

export function toInvitation(row: InvitationRow, now: Date): Invitation {
  return {
    id: row.id,
    account_id: row.accountId,
    email: row.email,
    role: row.role,
    status: statusOf(row, now),
    invited_by: row.invitedBy,
    expires_at: row.expiresAt.toISOString(),
    accepted_at: row.acceptedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  }
}

/**
 * Who invites or revokes: a member with their role, or a site API key (which acts with an
 * owner's authority: it made the account, see `createAccount`).
 */
export interface Inviter {
  actor: AuditActor
  role: Role
}

/** A member acting on invitations. */
export const memberInviter = (userId: string, role: Role): Inviter => ({ actor: userActor(userId), role })

/**
 * Invites an address, or refreshes the pending invitation it already has (new role, inviter and
 * expiry; the previous link stops working). The partial unique index on (account, lower(email))
 * of pending invitations makes concurrent invitations of one address one row. The email is
 * enqueued in the same transaction.
 */
export async function createInvitation(
  tx: Executor,
  deps: { jobs: JobSender },
  accountId: string,
  inviter: Inviter,
  input: CreateInvitationBody,
  now: Date,
): Promise<Invitation> {
  if (input.role === 'owner' && inviter.role !== 'owner') {
    throw new AppError('forbidden', 'Only an owner can invite an owner')
  }
  // Members are listed to everyone in the account, so saying so reveals nothing new.
  if (await isMemberByEmail(tx, accountId, input.email)) {
    throw new AppError('already_member', 'This address already belongs to a member of the account')
  }
  const expiresAt = new Date(now.getTime() + invitationLifetimeDays * 24 * 60 * 60_000)
  const upserted = await queryRow<{ id: string; version: number; inserted: boolean }>(
    tx,
    sql`insert into invitations (id, account_id, email, role, invited_by, expires_at, created_at, updated_at)
      values (${newId()}::uuid, ${accountId}::uuid, ${input.email}, ${input.role}, ${inviter.actor.userId ?? null}::uuid,
              ${expiresAt.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz)
      on conflict (account_id, lower(email)) where status = 'pending'
      do update set email = excluded.email, role = excluded.role, invited_by = excluded.invited_by,
        expires_at = excluded.expires_at, updated_at = excluded.updated_at,
        token_hash = null, version = invitations.version + 1
      where invitations.role <> 'owner' or ${inviter.role} = 'owner'
      returning id, version, (xmax = 0) as inserted`,
  )
  // The insert always returns its row; nothing comes back only when the pending invitation is an
  // owner's and the inviter is not one (re-inviting must not be a way round revoking).
  if (!upserted) throw new AppError('forbidden', 'Only an owner can change an owner invitation')
  await deps.jobs.enqueue(
    tx,
    sendInvitationEmail,
    { invitation_id: upserted.id, version: upserted.version },
    { key: `${upserted.id}:${upserted.version}` },
  )
  await audit(tx, {
    actor: inviter.actor,
    accountId,
    action: upserted.inserted ? 'invitation.created' : 'invitation.refreshed',
    subjectType: 'invitation',
    subjectId: upserted.id,
    data: { email: input.email, role: input.role },
    at: now,
  })
  return toInvitation(await getInvitation(tx, accountId, upserted.id), now)
}

async function getInvitation(tx: Executor, accountId: string, invitationId: string) {
  const [row] = await tx
    .select()
    .from(invitations)
    .where(and(eq(invitations.id, invitationId), eq(invitations.accountId, accountId)))
  if (!row) throw notFound('Invitation')
  return row
}

function statusFilter(status: InvitationStatus | undefined, now: Date): SQL | undefined {
  switch (status) {
    case undefined:
      return undefined
    case 'pending':
      return and(eq(invitations.status, 'pending'), gt(invitations.expiresAt, now))
    case 'expired':
      return and(eq(invitations.status, 'pending'), lte(invitations.expiresAt, now))
    default:
      return eq(invitations.status, status)
  }
}

/** The account's invitations, newest first. */
export async function listInvitations(
  tx: Executor,
  accountId: string,
  query: ListInvitationsQuery,
  now: Date,
) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select()
    .from(invitations)
    .where(
      and(
        eq(invitations.accountId, accountId),
        statusFilter(query.status, now),
        cursor ? lt(invitations.id, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(desc(invitations.id))
    .limit(query.limit + 1)
  return toPage(
    rows,
    query.limit,
    (row) => [row.id],
    (row) => toInvitation(row, now),
  )
}

/**
 * Revokes a pending invitation (its link stops working at once). Owners and admins; an owner
 * invitation only by an owner. An invitation no longer pending is a 409.
 */
export async function revokeInvitation(
  tx: Executor,
  accountId: string,
  actor: Inviter,
  invitationId: string,
  now: Date,
): Promise<void> {
  const current = await getInvitation(tx, accountId, invitationId)
  if (current.role === 'owner' && actor.role !== 'owner') {
    throw new AppError('forbidden', 'Only an owner can revoke an owner invitation')
  }
  const [row] = await tx
    .update(invitations)
    .set({ status: 'revoked', revokedAt: now, updatedAt: now })
    .where(
      and(
        eq(invitations.id, invitationId),
        eq(invitations.accountId, accountId),
        eq(invitations.status, 'pending'),
      ),
    )
    .returning({ id: invitations.id })
  if (!row) throw new AppError('conflict', `The invitation is already ${current.status}`)
  await audit(tx, {
    actor: actor.actor,
    accountId,
    action: 'invitation.revoked',
    subjectType: 'invitation',
    subjectId: invitationId,
    data: { email: current.email, role: current.role },
    at: now,
  })
}

/** Why an invitation found by its token cannot be accepted, if it cannot. */
function refusal(row: InvitationRow, now: Date): AppError | undefined {
  if (row.status === 'accepted') return new AppError('invitation_used', 'The invitation was already accepted')
  if (row.status === 'revoked') return new AppError('invitation_revoked', 'The invitation was revoked')
  if (row.expiresAt <= now) {
    return new AppError('invitation_expired', 'The invitation has expired; ask for a new one')
  }
  return undefined
}

/**
 * Accepts an invitation for the signed-in user: the token must be current, the invitation pending
 * and unexpired, sent to the user's own address, and that address verified. One conditional
 * UPDATE spends the invitation, so of concurrent accepts exactly one gets the membership.
 */
export async function acceptInvitation(
  tx: Executor,
  userId: string,
  token: string,
  now: Date,
): Promise<AcceptedInvitation> {
  const tokenHash = sha256(token)
  const [found] = await tx.select().from(invitations).where(eq(invitations.tokenHash, tokenHash))
  if (!found) {
    throw new AppError('invitation_not_found', 'No invitation has this token; it may have been replaced')
  }
  const refused = refusal(found, now)
  if (refused) throw refused
  const user = await getUser(tx, userId)
  if (user.email.trim().toLowerCase() !== found.email.trim().toLowerCase()) {
    throw new AppError(
      'invitation_email_mismatch',
      'The invitation was sent to another email address; sign in with that address to accept it',
    )
  }
  if (!user.isVerified) {
    throw new AppError('email_not_verified', 'Verify your email address, then accept the invitation')
  }
  const [spent] = await tx
    .update(invitations)
    .set({ status: 'accepted', acceptedAt: now, acceptedBy: userId, updatedAt: now })
    .where(
      and(
        eq(invitations.id, found.id),
        eq(invitations.tokenHash, tokenHash),
        eq(invitations.status, 'pending'),
        gt(invitations.expiresAt, now),
      ),
    )
    .returning()
  // Lost a race with another accept, a revocation or a re-invitation: say what happened to it.
  if (!spent) {
    const [latest] = await tx.select().from(invitations).where(eq(invitations.id, found.id))
    throw (
      (latest && refusal(latest, now)) ??
      new AppError('invitation_not_found', 'No invitation has this token; it may have been replaced')
    )
  }
  const role = spent.role
  if (!(await addMembership(tx, spent.accountId, userId, role, now))) {
    throw new AppError('already_member', 'You are already a member of this account; your role is unchanged')
  }
  await audit(tx, {
    actor: userActor(userId),
    accountId: spent.accountId,
    action: 'invitation.accepted',
    subjectType: 'invitation',
    subjectId: spent.id,
    data: { email: spent.email, role },
    at: now,
  })
  return { account: await getAccount(tx, spent.accountId, role), invitation: toInvitation(spent, now) }
}
