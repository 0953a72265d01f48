// Who an account's owner is, for the rules and mail that name one. An account created with an API
// key has no member at first: the address its owner invitation went to stands in for the owner
// until someone accepts (or the invitation is revoked), so billing mail reaches a person and the
// once-per-owner trial rule counts that address.
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { accountMembers } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import { invitations } from './tables.ts'

/** An owner: a member (`userId` set) or the address of a pending owner invitation (`userId` null). */
export interface OwnerContact {
  userId: string | null
  email: string
}

/**
 * The account's owners, first owner first: its owner members (only active ones when
 * `activeOnly`), or when it has none, the addresses of its pending owner invitations.
 */
export async function accountOwners(
  tx: Executor,
  accountId: string,
  { activeOnly = false }: { activeOnly?: boolean } = {},
): Promise<OwnerContact[]> {
  const members = await tx
    .select({ userId: users.id, email: users.email, isActive: users.isActive })
    .from(accountMembers)
    .innerJoin(users, eq(users.id, accountMembers.userId))
    .where(and(eq(accountMembers.accountId, accountId), eq(accountMembers.role, 'owner')))
    .orderBy(asc(accountMembers.createdAt))
  if (members.length > 0) {
    return members
      .filter((member) => member.isActive || !activeOnly)
      .map(({ userId, email }) => ({ userId, email }))
  }
  const pending = await tx
    .select({ email: invitations.email })
    .from(invitations)
    .where(
      and(
        eq(invitations.accountId, accountId),
        eq(invitations.role, 'owner'),
        sql`${invitations.status} = 'pending'`,
      ),
    )
    .orderBy(asc(invitations.createdAt))
  return pending.map(({ email }) => ({ userId: null, email }))
}
