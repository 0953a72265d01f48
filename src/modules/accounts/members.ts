import { and, asc, eq, gt, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { AppError, notFound } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { audit, userActor } from '../audit/audit.ts'
import { users } from '../auth/tables.ts'
import { revokeKeysOfCreator } from '../keys/keys.ts'
import { lockAccount } from './accounts.ts'
import { type Role, roleAtLeast } from './roles.ts'
import type { Member } from './schemas.ts'
import { accountMembers } from './tables.ts'

const memberColumns = {
  userId: accountMembers.userId,
  email: users.email,
  name: users.name,
  role: accountMembers.role,
  createdAt: accountMembers.createdAt,
}

function toMember(row: {
  userId: string
  email: string
  name: string | null
  role: Role
  createdAt: Date
}): Member {
  return {
    user_id: row.userId,
    email: row.email,
    name: row.name,
    role: row.role,
    created_at: row.createdAt.toISOString(),
  }
}

export async function listMembers(tx: Executor, accountId: string, query: PaginationQuery) {
  const cursor = decodeCursor(query.cursor, 1)
  const rows = await tx
    .select(memberColumns)
    .from(accountMembers)
    .innerJoin(users, eq(users.id, accountMembers.userId))
    .where(
      and(
        eq(accountMembers.accountId, accountId),
        cursor ? gt(accountMembers.userId, String(cursor[0])) : undefined,
      ),
    )
    .orderBy(asc(accountMembers.userId))
    .limit(query.limit + 1)
  return toPage(rows, query.limit, (row) => [row.userId], toMember)
}

/**
 * Makes a user a member with a role, for the invitations module (people join by invitation only).
 * Returns false when the user already is a member: the primary key decides, and the existing role
 * is left as it is.
 */
export async function addMembership(
  tx: Executor,
  accountId: string,
  userId: string,
  role: Role,
  now: Date,
): Promise<boolean> {
  const inserted = await tx
    .insert(accountMembers)
    .values({ accountId, userId, role, createdAt: now })
    .onConflictDoNothing()
    .returning({ userId: accountMembers.userId })
  return inserted.length > 0
}

/** Whether a user with this email (case-insensitive) is a member of the account. */
export async function isMemberByEmail(tx: Executor, accountId: string, email: string): Promise<boolean> {
  const [row] = await tx
    .select({ userId: accountMembers.userId })
    .from(accountMembers)
    .innerJoin(users, eq(users.id, accountMembers.userId))
    .where(
      and(
        eq(accountMembers.accountId, accountId),
        sql`lower(${users.email}) = ${email.trim().toLowerCase()}`,
      ),
    )
  return row !== undefined
}

/** 409 unless the account has another owner; the caller holds the account row's lock. */
async function assertAnotherOwner(tx: Executor, accountId: string): Promise<void> {
  const [owners] = await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(accountMembers)
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.role, 'owner')))
  if ((owners?.count ?? 0) <= 1) throw new AppError('conflict', 'An account must keep at least one owner')
}

/**
 * Changes a member's role. Owners and admins; only an owner makes or unmakes an owner. The account
 * row is locked so concurrent demotions cannot leave it without an owner.
 */
export async function changeMemberRole(
  tx: Executor,
  accountId: string,
  actor: { userId: string; role: Role },
  userId: string,
  role: Role,
  now: Date,
): Promise<Member> {
  await lockAccount(tx, accountId)
  const [target] = await tx
    .select({ role: accountMembers.role })
    .from(accountMembers)
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.userId, userId)))
  if (!target) throw notFound('Member')
  if ((target.role === 'owner' || role === 'owner') && actor.role !== 'owner') {
    throw new AppError('forbidden', 'Only an owner can make or unmake an owner')
  }
  if (target.role === 'owner' && role !== 'owner') await assertAnotherOwner(tx, accountId)
  await tx
    .update(accountMembers)
    .set({ role })
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.userId, userId)))
  // Below admin, the member can no longer make keys here, so the keys they made stop working.
  if (!roleAtLeast(role, 'admin')) {
    await revokeKeysOfCreator(tx, userId, accountId, userActor(actor.userId), 'creator_demoted', now)
  }
  if (target.role !== role) {
    await audit(tx, {
      actor: userActor(actor.userId),
      accountId,
      action: 'member.role_changed',
      subjectType: 'user',
      subjectId: userId,
      data: { from: target.role, to: role },
      at: now,
    })
  }
  const [member] = await tx
    .select(memberColumns)
    .from(accountMembers)
    .innerJoin(users, eq(users.id, accountMembers.userId))
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.userId, userId)))
  if (!member) throw new Error('member vanished')
  return toMember(member)
}

/**
 * Removes a member. Admins remove members and admins, owners anyone; anyone may leave. The account
 * row is locked so two owners removing each other cannot leave it without an owner. The account
 * keys the member made stop working with the membership.
 */
export async function removeMember(
  tx: Executor,
  accountId: string,
  actor: { userId: string; role: Role },
  userId: string,
  now: Date,
) {
  await lockAccount(tx, accountId)
  const [target] = await tx
    .select({ role: accountMembers.role })
    .from(accountMembers)
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.userId, userId)))
  if (!target) throw notFound('Member')
  const leaving = actor.userId === userId
  if (!leaving && !roleAtLeast(actor.role, 'admin'))
    throw new AppError('forbidden', 'Only owners and admins remove members')
  if (!leaving && target.role === 'owner' && actor.role !== 'owner') {
    throw new AppError('forbidden', 'Only an owner can remove an owner')
  }
  if (target.role === 'owner') await assertAnotherOwner(tx, accountId)
  await tx
    .delete(accountMembers)
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.userId, userId)))
  await audit(tx, {
    actor: userActor(actor.userId),
    accountId,
    action: leaving ? 'member.left' : 'member.removed',
    subjectType: 'user',
    subjectId: userId,
    data: { role: target.role },
    at: now,
  })
  await revokeKeysOfCreator(
    tx,
    userId,
    accountId,
    userActor(actor.userId),
    leaving ? 'creator_left' : 'creator_removed',
    now,
  )
}
