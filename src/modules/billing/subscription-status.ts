// The status vocabulary, on its own (no imports) so that table definitions can use it.

/**
 * The states of a subscription, as providers report them and the subscriptions module stores
 * them (its `subscriptions.status` column uses this list).
 */
export const subscriptionStatuses = [
  'incomplete',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'expired',
] as const
export type SubscriptionStatus = (typeof subscriptionStatuses)[number]
