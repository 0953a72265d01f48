// Every job the service runs, each with its handler: the API process and the workers register
// exactly this list. Only the composition root knows it; a module enqueues by definition alone.
import type { Deps } from './deps.ts'
import {
  sendLoginCodeEmailHandler,
  sendPasswordResetEmailHandler,
  sendVerificationEmailHandler,
} from './modules/auth/jobs.ts'
import { sendInvitationEmailHandler } from './modules/invitations/jobs.ts'
import type { JobHandler } from './modules/jobs/define.ts'
import { sendMailHandler } from './modules/mail/jobs.ts'
import {
  endProviderSubscriptionHandler,
  reconcileBillingHandler,
  retryStripeEventsHandler,
} from './modules/stripe/jobs.ts'
import { announcePlanEntitlementsHandler, sweepSubscriptionsHandler } from './modules/subscriptions/jobs.ts'
import { deliverWebhookHandler } from './modules/webhooks/jobs.ts'

export const jobHandlers: readonly JobHandler<Deps>[] = [
  sendMailHandler,
  sendVerificationEmailHandler,
  sendPasswordResetEmailHandler,
  sendLoginCodeEmailHandler,
  sendInvitationEmailHandler,
  deliverWebhookHandler,
  sweepSubscriptionsHandler,
  reconcileBillingHandler,
  retryStripeEventsHandler,
  endProviderSubscriptionHandler,
  announcePlanEntitlementsHandler,
]
