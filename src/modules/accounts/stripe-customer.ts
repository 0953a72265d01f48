// The account's Stripe customer id: read and written here for the Stripe adapter, which creates
// the customer at Stripe and stores its id once.
import { and, eq, isNull } from 'drizzle-orm'
import type { Executor } from '../../core/db.ts'
import { accounts } from './tables.ts'

/** The account's name and Stripe customer id (null until one is made); null when there is no such account. */
export async function stripeCustomerOf(
  executor: Executor,
  accountId: string,
): Promise<{ name: string; customer: string | null } | null> {
  const [account] = await executor
    .select({ name: accounts.name, customer: accounts.stripeCustomerId })
    .from(accounts)
    .where(eq(accounts.id, accountId))
  return account ?? null
}

/** Stores the account's Stripe customer id unless one is stored already (one statement, no transaction held). */
export async function setStripeCustomerId(executor: Executor, accountId: string, customerId: string) {
  await executor
    .update(accounts)
    .set({ stripeCustomerId: customerId })
    .where(and(eq(accounts.id, accountId), isNull(accounts.stripeCustomerId)))
}

/** The account a Stripe customer belongs to, or null. */
export async function accountOfStripeCustomer(
  executor: Executor,
  customerId: string | null,
): Promise<{ id: string } | null> {
  if (!customerId) return null
  const [account] = await executor
    .select({ id: accounts.id })
    .from(accounts)
    .where(eq(accounts.stripeCustomerId, customerId))
  return account ?? null
}
