import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'
import type { PlanInterval } from '../../core/vocabulary.ts'
import { accounts } from '../accounts/tables.ts'
import { users } from '../auth/tables.ts'
import type { SubscriptionStatus } from '../billing/subscription-status.ts'
import { plans } from '../plans/tables.ts'

// The status vocabulary is billing's (providers report it); re-exported for this module's readers.
export { type SubscriptionStatus, subscriptionStatuses } from '../billing/subscription-status.ts'

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    planId: uuid('plan_id')
      .notNull()
      .references(() => plans.id),
    status: text('status').$type<SubscriptionStatus>().notNull(),
    provider: text('provider').notNull().default('manual'),
    providerSubscriptionId: text('provider_subscription_id'),
    currentPeriodStart: timestamp('current_period_start', { withTimezone: true }).notNull(),
    currentPeriodEnd: timestamp('current_period_end', { withTimezone: true }).notNull(),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
    canceledAt: timestamp('canceled_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    trialEnd: timestamp('trial_end', { withTimezone: true }),
    /** Until when a `past_due` subscription keeps access. */
    graceUntil: timestamp('grace_until', { withTimezone: true }),
    /**
     * What the subscriber pays per period: the plan's price when they subscribed or moved to the
     * plan (a later change of the plan's price does not reach them); with Stripe, the price Stripe
     * bills. Renewals invoice it, MRR counts it.
     */
    priceCents: integer('price_cents').notNull(),
    currency: text('currency').notNull(),
    interval: text('interval').$type<PlanInterval>().notNull(),
    /** The provider price the subscriber pays (kept when the plan's price changes). */
    providerPriceId: text('provider_price_id'),
    /** Time of the newest provider event applied; older events never overwrite newer state. */
    providerUpdatedAt: timestamp('provider_updated_at', { withTimezone: true }),
    /** The Checkout session of an `incomplete` subscription (Stripe), and where to send the customer. */
    checkoutSessionId: text('checkout_session_id'),
    checkoutUrl: text('checkout_url'),
    checkoutExpiresAt: timestamp('checkout_expires_at', { withTimezone: true }),
    /**
     * Bumped whenever a state read from the provider is applied, changed or not: a provider read
     * that began before the bump may be older than what was applied, and is read again.
     */
    syncVersion: integer('sync_version').notNull().default(0),
    /** A plan change scheduled for the end of the current period. */
    pendingPlanId: uuid('pending_plan_id').references(() => plans.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    // One live subscription per account: everything but `expired` is live.
    uniqueIndex('subscriptions_one_live_per_account').on(t.accountId).where(sql`${t.status} <> 'expired'`),
    index('subscriptions_account_idx').on(t.accountId),
    uniqueIndex('subscriptions_provider_subscription_key').on(t.provider, t.providerSubscriptionId),
    index('subscriptions_period_end_idx').on(t.currentPeriodEnd).where(sql`${t.status} <> 'expired'`),
    check(
      'subscriptions_status_check',
      sql`${t.status} in ('incomplete', 'trialing', 'active', 'past_due', 'canceled', 'expired')`,
    ),
  ],
)

export type SubscriptionRow = typeof subscriptions.$inferSelect

/**
 * What `applyState` finds a change of the row to be. `plan_changed` is recorded as `upgraded` or
 * `downgraded` (as itself only if either plan could not be read, which the foreign keys prevent).
 */
export const changeTypes = [
  'activated',
  'canceled',
  'cancel_scheduled',
  'resumed',
  'past_due',
  'recovered',
  'renewed',
  'plan_changed',
  'change_scheduled',
  'scheduled_change_canceled',
  'trial_ended',
  'expired',
  'checkout_expired',
  'updated',
] as const
export type ChangeType = (typeof changeTypes)[number]

/** Reminders: recorded (and sent) once per subscription and occasion; they change nothing. */
export const reminderTypes = ['trial_will_end', 'grace_ending'] as const
export type ReminderType = (typeof reminderTypes)[number]

/**
 * Every kind of transition the subscription history records (and the audit log as
 * `subscription.<type>`, and the outgoing events as their `change`).
 */
export const transitionTypes = [
  'created',
  'activated',
  'upgraded',
  'downgraded',
  'upgrade_awaiting_payment',
  'canceled',
  'cancel_scheduled',
  'resumed',
  'past_due',
  'recovered',
  'renewed',
  'change_scheduled',
  'scheduled_change_canceled',
  'trial_ended',
  'expired',
  'checkout_expired',
  'updated',
  'plan_changed',
  ...reminderTypes,
] as const
export type TransitionType = (typeof transitionTypes)[number]

/** Every transition of every subscription, oldest first. */
export const subscriptionEvents = pgTable(
  'subscription_events',
  {
    id: uuid('id').primaryKey(),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => subscriptions.id, { onDelete: 'cascade' }),
    accountId: uuid('account_id')
      .notNull()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    type: text('type').$type<TransitionType>().notNull(),
    fromStatus: text('from_status').$type<SubscriptionStatus>(),
    toStatus: text('to_status').$type<SubscriptionStatus>().notNull(),
    fromPlanId: uuid('from_plan_id').references(() => plans.id),
    toPlanId: uuid('to_plan_id').references(() => plans.id),
    actorUserId: uuid('actor_user_id').references(() => users.id, { onDelete: 'set null' }),
    /** The subscriber's price after the transition (see `subscriptions.price_cents`). */
    priceCents: integer('price_cents').notNull(),
    currency: text('currency').notNull(),
    interval: text('interval').$type<PlanInterval>().notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    index('subscription_events_subscription_idx').on(t.subscriptionId),
    // A reminder is recorded (and sent) once per subscription and occasion, whoever races for it.
    uniqueIndex('subscription_events_reminder_key')
      .on(t.subscriptionId, t.type, sql`(${t.data}->>'key')`)
      .where(sql`${t.type} in ('trial_will_end', 'grace_ending')`),
  ],
)

/**
 * One trial per account and per owner: the primary key and the unique owner (by user, and by
 * address so that an owner invited with an API key who has not accepted yet counts too) make a
 * second trial impossible, also through a new account of the same owner. Both owner columns are
 * null for an account with no owner at all.
 */
export const trials = pgTable(
  'trials',
  {
    accountId: uuid('account_id')
      .primaryKey()
      .references(() => accounts.id, { onDelete: 'cascade' }),
    ownerUserId: uuid('owner_user_id')
      .unique()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The owner's address, lower case. */
    ownerEmail: text('owner_email'),
    subscriptionId: uuid('subscription_id').references(() => subscriptions.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [uniqueIndex('trials_owner_email_key').on(t.ownerEmail)],
)
