// Every job the service knows; workers and the API process register exactly this list.
import type { JobDefinition } from '../define.ts'
import { sendLoginCodeEmail, sendPasswordResetEmail, sendVerificationEmail } from './auth-emails.ts'
import { deliverWebhook } from './deliver-webhook.ts'
import { sendMail } from './send-mail.ts'

export const jobDefinitions = [
  sendMail,
  sendVerificationEmail,
  sendPasswordResetEmail,
  sendLoginCodeEmail,
  deliverWebhook,
] as JobDefinition<unknown>[]
