// The mail job: a templated message that carries no secret (welcome, password changed, billing
// notices), rendered and sent outside the transaction that enqueued it.
import { z } from 'zod'
import type { Config } from '../../config.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import type { Mailer } from './mailer.ts'
import { MailTemplate, renderMail } from './templates.ts'

/** What the mail jobs run with: the transport, and the settings templates read (links). */
export interface MailJobContext {
  config: Config
  mailer: Mailer
}

/** Delivers a templated message that carries no secret (welcome, password changed). */
export const sendMail = defineJob({
  name: 'mail.send',
  payload: z.object({ to: z.string(), mail: MailTemplate }),
  retryLimit: 8,
  retryDelaySeconds: 30,
})

export const sendMailHandler = handleJob(sendMail, async (ctx: MailJobContext, { to, mail }, { jobId }) => {
  await ctx.mailer.send({ to, ...renderMail(mail, ctx.config), reference: jobId })
})
