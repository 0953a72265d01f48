// The emails plangate sends, as plain functions: each template gives a subject, a plain-text body
// that reads well on its own, and an HTML body in one small shared layout. A job payload carries
// the template's data (`MailTemplate`), and the message is rendered when it is delivered.
import { z } from 'zod'
import type { Config } from '../../config.ts'

export const MailTemplate = z.discriminatedUnion('template', [
  z.object({ template: z.literal('verify_email'), token: z.string().min(1) }),
  z.object({
    template: z.literal('password_reset'),
    token: z.string().min(1),
    expires_minutes: z.number().int().positive(),
  }),
  z.object({ template: z.literal('password_changed') }),
  z.object({ template: z.literal('login_code'), code: z.string().min(1) }),
  z.object({ template: z.literal('welcome'), name: z.string().nullish() }),
])
export type MailTemplate = z.infer<typeof MailTemplate>

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

type RenderConfig = Pick<Config, 'APP_URL'>

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => escapes[char] ?? char)
}

/** `${APP_URL}/<path>?token=…`: keeps a path prefix in APP_URL, encodes the token as one query parameter. */
export function appLink(appUrl: string, path: string, token: string): string {
  const url = new URL(appUrl)
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`
  url.search = `?token=${encodeURIComponent(token)}`
  url.hash = ''
  return url.toString()
}

/** Pieces of a message body; each renders to a paragraph in HTML and a block of text. */
type Block = { text: string } | { link: string; label: string } | { code: string }

function compose(subject: string, heading: string, blocks: Block[]): RenderedMail {
  const text = [
    heading,
    ...blocks.map((block) => {
      if ('link' in block) return `${block.label}:\n${block.link}`
      if ('code' in block) return `    ${block.code}`
      return block.text
    }),
    '-- \nplangate',
  ].join('\n\n')
  const body = blocks
    .map((block) => {
      if ('link' in block) {
        const href = escapeHtml(block.link)
        return `<p><a href="${href}" style="display:inline-block;padding:10px 18px;background:#1f4fd1;color:#ffffff;text-decoration:none;border-radius:4px">${escapeHtml(block.label)}</a></p>
<p style="font-size:13px;color:#555555">Or paste this link into your browser:<br><a href="${href}" style="color:#1f4fd1;word-break:break-all">${href}</a></p>`
      }
      if ('code' in block) {
        return `<p style="font-size:28px;font-weight:bold;letter-spacing:6px;font-family:monospace">${escapeHtml(block.code)}</p>`
      }
      return `<p>${escapeHtml(block.text)}</p>`
    })
    .join('\n')
  return { subject, text, html: layout(subject, heading, body) }
}

/** The shared HTML frame: inline styles only, as mail clients ignore style sheets. */
function layout(subject: string, heading: string, body: string): string {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(subject)}</title></head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1a1a1a">
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:6px">
<h1 style="margin-top:0;font-size:20px">${escapeHtml(heading)}</h1>
${body}
</div>
<p style="max-width:560px;margin:12px auto 0;font-size:12px;color:#777777">Sent by plangate. You get this email because of an action on your account.</p>
</body>
</html>
`
}

const minutes = (count: number) => (count === 1 ? '1 minute' : `${count} minutes`)

/** Renders a template with the links under APP_URL. */
export function renderMail(mail: MailTemplate, config: RenderConfig): RenderedMail {
  switch (mail.template) {
    case 'verify_email':
      return compose('Verify your email address', 'Confirm your email address', [
        { text: 'Please confirm that this is your email address by opening the link below.' },
        { link: appLink(config.APP_URL, 'verify-email', mail.token), label: 'Verify email address' },
        { text: 'If you did not create an account, you can ignore this email.' },
      ])
    case 'password_reset':
      return compose('Reset your password', 'Reset your password', [
        {
          text: 'Someone asked to reset the password of your account. Open the link below to choose a new one.',
        },
        { link: appLink(config.APP_URL, 'reset-password', mail.token), label: 'Choose a new password' },
        {
          text: `The link expires in ${minutes(mail.expires_minutes)} and works once. If you did not ask for this, ignore this email: your password stays as it is.`,
        },
      ])
    case 'password_changed':
      return compose('Your password was changed', 'Your password was changed', [
        { text: 'The password of your account was just changed.' },
        {
          text: 'If this was you, there is nothing to do. If it was not, reset your password now with "Forgot password" on the sign-in page: a reset also signs out every session.',
        },
      ])
    case 'login_code':
      return compose('Your login code', 'Your login code', [
        { text: 'Enter this code to sign in:' },
        { code: mail.code },
        {
          text: 'The code is valid for 10 minutes and works once. If you did not try to sign in, ignore this email.',
        },
      ])
    case 'welcome': {
      const name = mail.name?.trim()
      return compose('Welcome to plangate', name ? `Welcome, ${name}!` : 'Welcome!', [
        { text: 'Your account is ready. Thank you for signing up.' },
        { text: 'If you did not create this account, you can ignore this email.' },
      ])
    }
  }
}
