// Every job the service knows; workers and the API process register exactly this list.
import type { JobDefinition } from '../define.ts'
import { announcePlanEntitlements } from './announce-plan-entitlements.ts'
import { sendLoginCodeEmail, sendPasswordResetEmail, sendVerificationEmail } from './auth-emails.ts'
import { reconcileBilling, retryStripeEvents, sweepSubscriptions } from './billing.ts'
import { deliverWebhook } from './deliver-webhook.ts'
import { endProviderSubscription } from './end-provider-subscription.ts'
import { sendInvitationEmail } from './invitation-email.ts'
import { sendMail } from './send-mail.ts'

export const jobDefinitions = [
  sendMail,
  sendVerificationEmail,
  sendPasswordResetEmail,
  sendLoginCodeEmail,
  sendInvitationEmail,
  deliverWebhook,
  sweepSubscriptions,
  reconcileBilling,
  retryStripeEvents,
  endProviderSubscription,
  announcePlanEntitlements,
] as JobDefinition<unknown>[]
