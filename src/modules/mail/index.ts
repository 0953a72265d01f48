import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import { createFolderMailer, mailFolderDir } from './folder.ts'
import type { Mailer } from './mailer.ts'
import { createSmtpMailer } from './smtp.ts'

/** SMTP when SMTP_URL is set; otherwise the mail folder under DATA_DIR (the embedded default). */
export function createMailer(config: Config, log: Logger): Mailer {
  const mailLog = log.child({ module: 'mail' })
  if (config.SMTP_URL) {
    // Only the host is logged: the URL may carry the SMTP password.
    mailLog.debug({ host: new URL(config.SMTP_URL).host }, 'mail goes out over SMTP')
    return createSmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM, log: mailLog })
  }
  const dir = mailFolderDir(config)
  mailLog.debug({ dir }, 'mail is written to the mail folder')
  return createFolderMailer({ dir, from: config.MAIL_FROM, log: mailLog })
}
