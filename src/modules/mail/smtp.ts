import { createTransport } from 'nodemailer'
import type { Logger } from 'pino'
import type { Mailer } from './mailer.ts'

export interface SmtpMailerOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://user:pass@host:465`. */
  url: string
  from: string
  log?: Logger
  /**
   * Limit for connecting, for the greeting and for each silence on the socket. A server that is
   * down or stuck makes `send` reject within it, so the job fails and is retried instead of hanging.
   */
  timeoutMs?: number
}

/** A Mailer over SMTP; one connection per message (mail is sent by jobs, a few at a time). */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const timeout = options.timeoutMs ?? 10_000
  const transport = createTransport(
    {
      url: options.url,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      dnsTimeout: timeout,
    },
    { from: options.from },
  )
  return {
    kind: 'smtp',
    async send(message) {
      const info = await transport.sendMail({
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        ...(message.reference && { headers: { 'X-Plangate-Reference': message.reference } }),
      })
      options.log?.info({ messageId: info.messageId, reference: message.reference }, 'mail sent over SMTP')
      return { messageId: info.messageId }
    },
    async close() {
      transport.close()
    },
  }
}
