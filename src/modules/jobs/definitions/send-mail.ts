import { z } from 'zod'
import { MailTemplate, renderMail } from '../../mail/templates.ts'
import { defineJob } from '../define.ts'

/** Delivers a templated message that carries no secret (welcome, password changed). */
export const sendMail = defineJob({
  name: 'mail.send',
  payload: z.object({ to: z.string(), mail: MailTemplate }),
  retryLimit: 8,
  retryDelaySeconds: 30,
  async handler({ deps, jobId }, { to, mail }) {
    await deps.mailer.send({ to, ...renderMail(mail, deps.config), reference: jobId })
  },
})
