// The payment-provider seam. The subscription rules (who may subscribe, one live subscription,
// trials, grace, what a transition records and announces) live in the subscriptions module and
// are the same for every provider; a provider only says what a subscription looks like after an
// operation: `manual` computes it locally (payments happen elsewhere and are recorded), `stripe`
// asks Stripe and mirrors the answer. Both return the same `ProviderState`.
import type { Executor } from '../../core/db.ts'
import type { PlanInterval } from '../../core/vocabulary.ts'
import type { PlanRow } from '../plans/plans.ts'
import type { SubscriptionStatus } from './subscription-status.ts'

export { type SubscriptionStatus, subscriptionStatuses } from './subscription-status.ts'

export const providerNames = ['manual', 'stripe'] as const
export type ProviderName = (typeof providerNames)[number]

/**
 * What a provider is given of a subscription: the fields providers read. The subscriptions
 * module's row satisfies it; providers never write it (they return a `ProviderState`).
 */
export interface ProviderSubscription {
  id: string
  accountId: string
  planId: string
  pendingPlanId: string | null
  status: SubscriptionStatus
  currentPeriodStart: Date
  currentPeriodEnd: Date
  cancelAtPeriodEnd: boolean
  canceledAt: Date | null
  trialEnd: Date | null
  providerSubscriptionId: string | null
  providerPriceId: string | null
  /** What the subscriber pays per period (kept when the plan's price changes). */
  priceCents: number
  currency: string
  interval: PlanInterval
  checkoutSessionId: string | null
  createdAt: Date
  /** Changes with every write of the subscription: part of the idempotency keys of provider calls. */
  updatedAt: Date
}

/** What a provider says a subscription is after an operation; omitted fields stay as they are. */
export interface ProviderState {
  status?: SubscriptionStatus
  planId?: string
  pendingPlanId?: string | null
  currentPeriodStart?: Date
  currentPeriodEnd?: Date
  cancelAtPeriodEnd?: boolean
  canceledAt?: Date | null
  endedAt?: Date | null
  trialEnd?: Date | null
  providerSubscriptionId?: string | null
  providerPriceId?: string | null
  /**
   * The subscriber's price, when the provider knows it (Stripe's price). Omitted while the plan
   * stays: the price stays; a new plan without it: the new plan's price.
   */
  priceCents?: number
  currency?: string
  interval?: PlanInterval
}

/** A charge the manual provider records as an open invoice (Stripe makes its own invoices). */
export interface Charge {
  amountCents: number
  currency: string
  description: string
  periodStart: Date
  periodEnd: Date
}

export interface Checkout {
  sessionId: string
  url: string
  expiresAt: Date
}

export interface StartInput {
  row: ProviderSubscription
  plan: PlanRow
  /** Days of trial the account is entitled to on this plan (0: none). */
  trialDays: number
  ownerEmail: string | null
  now: Date
}

export interface ChangeInput {
  row: ProviderSubscription
  from: PlanRow
  to: PlanRow
  when: 'now' | 'period_end'
  now: Date
}

export interface ChangeOutcome {
  state: ProviderState
  charge?: Charge
  /** Set when an upgrade waits for its payment: the plan is unchanged until it is paid. */
  awaitingPayment?: boolean
}

export interface BillingProvider {
  readonly name: ProviderName
  /**
   * Throws 503 `provider_unavailable` at once when a call would be refused now (Stripe: breaker
   * open, or every interactive slot taken), before any intent is recorded.
   */
  assertAvailable(): void
  /** The values a new subscription is created with (before `start`). */
  initialState(
    plan: PlanRow,
    trialDays: number,
    now: Date,
  ): Required<Pick<ProviderState, 'status' | 'currentPeriodStart' | 'currentPeriodEnd' | 'trialEnd'>>
  /**
   * After the row exists: the first charge (manual) or the Checkout session to pay it (Stripe).
   * Provider methods that call out (Stripe) are given the database, never an open transaction:
   * they run short statements of their own (the customer and price ids they create) around the call.
   */
  start(tx: Executor, input: StartInput): Promise<{ charge?: Charge; checkout?: Checkout }>
  /** Gives up an unpaid `incomplete` subscription (its Checkout session is expired). */
  abandon(tx: Executor, row: ProviderSubscription): Promise<void>
  changePlan(tx: Executor, input: ChangeInput): Promise<ChangeOutcome>
  /** Drops a change scheduled for period end (the current plan stays). */
  unscheduleChange(
    tx: Executor,
    row: ProviderSubscription,
    current: PlanRow,
    now: Date,
  ): Promise<ProviderState>
  cancel(tx: Executor, row: ProviderSubscription, atPeriodEnd: boolean, now: Date): Promise<ProviderState>
  resume(tx: Executor, row: ProviderSubscription, now: Date): Promise<ProviderState>
  /**
   * The subscription as the provider has it now (read again when something was applied to the
   * row while a call was out). The manual provider is the state itself: nothing to read.
   */
  currentState(tx: Executor, row: ProviderSubscription): Promise<ProviderState>
  /** Where the customer manages payment methods and invoices. */
  portalUrl(tx: Executor, accountId: string): Promise<string>
  /** Mirrors a created or changed plan at the provider (product, price); returns provider ids to store. */
  syncPlan(
    tx: Executor,
    plan: PlanRow,
    previous: PlanRow | null,
  ): Promise<Partial<Pick<PlanRow, 'stripeProductId' | 'stripePriceId'>>>
}

/** The providers the subscription rules use (built at the composition root). */
export interface Providers {
  /** The provider new subscriptions use: `stripe` when configured, else `manual`. */
  default: BillingProvider
  /** The provider of an existing subscription (a manual one stays manual after Stripe is configured). */
  of(name: string): BillingProvider
}
