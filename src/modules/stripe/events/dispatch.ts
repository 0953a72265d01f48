// Which handler an incoming Stripe event gets: one switch over the SDK's event union, so each
// handler receives its event already narrowed. Any other type is acknowledged and ignored.
import type Stripe from 'stripe'
import { checkoutCompleted, checkoutExpired } from './checkout.ts'
import { invoiceChanged } from './invoices.ts'
import type { StripeEventHandler } from './reads.ts'
import { subscriptionChanged } from './subscriptions.ts'

/** The handler of `event`, or null for a type plangate does not act on. */
export function handlerOf(event: Stripe.Event): StripeEventHandler | null {
  switch (event.type) {
    case 'checkout.session.completed':
      return checkoutCompleted(event)
    case 'checkout.session.expired':
      return checkoutExpired(event)
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
    case 'customer.subscription.paused':
    case 'customer.subscription.resumed':
    case 'customer.subscription.pending_update_applied':
    case 'customer.subscription.pending_update_expired':
    case 'customer.subscription.trial_will_end':
      return subscriptionChanged(event)
    case 'invoice.created':
    case 'invoice.finalized':
    case 'invoice.paid':
    case 'invoice.payment_succeeded':
    case 'invoice.payment_failed':
    case 'invoice.payment_action_required':
    case 'invoice.voided':
    case 'invoice.marked_uncollectible':
      return invoiceChanged(event)
    default:
      return null
  }
}
