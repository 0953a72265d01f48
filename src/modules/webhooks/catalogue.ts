// The outgoing events plangate sends to webhook endpoints: their types and what each means. The
// README's event table is this catalogue (a unit test compares them), and `emitEvent` accepts
// only these types.

/** Every event type plangate sends. */
export const eventTypes = [
  'subscription.created',
  'subscription.updated',
  'subscription.canceled',
  'subscription.resumed',
  'subscription.expired',
  'subscription.renewed',
  'subscription.trial_will_end',
  'invoice.created',
  'invoice.paid',
  'invoice.payment_failed',
  'entitlements.updated',
] as const
export type EventType = (typeof eventTypes)[number]

export interface EventDescription {
  /** When the event is sent. */
  when: string
  /** The shape of its `data`. */
  data: string
}

/** What each event means, as the README's event table shows it (Markdown). */
export const eventCatalogue: Record<EventType, EventDescription> = {
  'subscription.created': {
    when: 'a subscription is created (manual: active or trialing; Stripe: incomplete)',
    data: '`{change, subscription, previous}`',
  },
  'subscription.updated': {
    when: 'any other change: activated, plan changed (`upgraded`/`downgraded`), change scheduled or dropped, `past_due`, `recovered`, upgrade awaiting payment',
    data: '`{change, subscription, previous}`',
  },
  'subscription.canceled': {
    when: 'canceled now, or scheduled to end at period end (`change`: `canceled` / `cancel_scheduled`)',
    data: '`{change, subscription, previous}`',
  },
  'subscription.resumed': {
    when: 'a cancel at period end was undone',
    data: '`{change, subscription, previous}`',
  },
  'subscription.expired': {
    when: 'access is over (period, grace or unpaid Checkout)',
    data: '`{change, subscription, previous}`',
  },
  'subscription.renewed': {
    when: 'a new period started (also the end of a trial)',
    data: '`{change, subscription, previous}`',
  },
  'subscription.trial_will_end': {
    when: "`TRIAL_REMINDER_DAYS` before a trial ends (or Stripe's notice)",
    data: '`{change, subscription, previous}`',
  },
  'invoice.created': {
    when: 'an invoice is recorded',
    data: '`{invoice}`',
  },
  'invoice.paid': {
    when: 'an invoice is paid',
    data: '`{invoice}`',
  },
  'invoice.payment_failed': {
    when: 'a payment failed',
    data: '`{invoice}`',
  },
  'entitlements.updated': {
    when: "an account's plan or access changed, or its plan's limits or features were edited",
    data: '`{account_id, plan, has_access, reason}` (`subscription.<change>` or `plan_updated`)',
  },
}
