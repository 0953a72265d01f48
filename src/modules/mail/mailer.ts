/** A rendered message, ready for a transport. */
export interface MailMessage {
  to: string
  subject: string
  text: string
  html: string
  /** Stable id of what caused the message (e.g. the token or job id), for tracing and dedupe. */
  reference?: string
}

/** The mail seam: SMTP (SMTP_URL) or the mail folder under DATA_DIR (the embedded default). */
export interface Mailer {
  kind: 'smtp' | 'folder'
  send(message: MailMessage): Promise<{ messageId: string }>
  close(): Promise<void>
}
