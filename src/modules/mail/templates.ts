// The emails plangate sends, as plain functions: each template gives a subject, a plain-text body
// that reads well on its own, and an HTML body in one small shared layout. A job payload carries
// the template's data (`MailTemplate`), and the message is rendered when it is delivered.
import { z } from 'zod'
import type { Config } from '../../config.ts'
import { planIntervals, roles } from '../../core/vocabulary.ts'

const Instant = z.iso.datetime()
const Amount = z.number().int().nonnegative().describe("In the currency's minor unit (cents; yen for JPY)")
const Currency = z.string().regex(/^[a-z]{3}$/i, 'Expected a 3-letter ISO 4217 currency code')
const PlanName = z.string().min(1)
/** Where the customer manages billing; shown only when it is an http(s) URL. */
const BillingUrl = z.string().nullish()

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
  z.object({ template: z.literal('signup_attempt') }),
  z.object({
    template: z.literal('invitation'),
    token: z.string().min(1),
    account_name: z.string().min(1),
    inviter: z.string().nullish().describe("The inviter's name or email"),
    role: z.enum(roles),
    expires_at: Instant,
  }),
  z.object({
    template: z.literal('subscription_started'),
    plan_name: PlanName,
    trial_end: Instant.nullish(),
    amount_cents: Amount,
    currency: Currency,
    interval: z.enum(planIntervals),
    billing_url: BillingUrl,
  }),
  z.object({
    template: z.literal('subscription_renewed'),
    plan_name: PlanName,
    amount_cents: Amount,
    currency: Currency,
    period_end: Instant,
    billing_url: BillingUrl,
  }),
  z
    .object({
      template: z.literal('subscription_changed'),
      from_plan: PlanName,
      to_plan: PlanName,
      effective: z.enum(['now', 'period_end']),
      effective_at: Instant,
      amount_cents: Amount.nullish().describe(
        'What the change bills: the prorated charge when it takes effect now, the new price per period when it waits for the period end',
      ),
      currency: Currency.nullish(),
      billing_url: BillingUrl,
    })
    .refine((mail) => (mail.amount_cents == null) === (mail.currency == null), {
      message: 'amount_cents and currency go together',
      path: ['currency'],
    }),
  z.object({
    template: z.literal('subscription_canceled'),
    plan_name: PlanName,
    ends_at: Instant,
    immediately: z.boolean(),
    billing_url: BillingUrl,
  }),
  z.object({
    template: z.literal('payment_failed'),
    plan_name: PlanName,
    amount_cents: Amount,
    currency: Currency,
    grace_until: Instant,
    reminder: z
      .boolean()
      .optional()
      .describe('The later reminder, sent when the grace period is nearly over'),
    billing_url: BillingUrl,
  }),
  z.object({
    template: z.literal('trial_ending'),
    plan_name: PlanName,
    trial_end: Instant,
    billing_url: BillingUrl,
  }),
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

/** A name chosen by a user, on one line and of a sane length, for subjects and sentences. */
const oneLine = (value: string) =>
  value
    .replace(/[\p{Cc}\s]+/gu, ' ')
    .trim()
    .slice(0, 120)

const minutes = (count: number) => (count === 1 ? '1 minute' : `${count} minutes`)

/** An amount in the currency's minor unit, e.g. 1999 usd → "$19.99", 1500 jpy → "¥1,500". */
export function formatMoney(amountMinor: number, currency: string): string {
  const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() })
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2
  return format.format(amountMinor / 10 ** digits)
}

/** The calendar day in UTC, e.g. "March 3, 2027": the same day whatever the reader's zone. */
export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString('en-US', { timeZone: 'UTC', dateStyle: 'long' })
}

/**
 * The "Manage billing" link, only for an absolute http(s) URL written on one line: any other
 * scheme (javascript:, data:) could run in the reader's mail client, and whitespace or control
 * characters would break the plain-text part. The URL is used as given.
 */
function billingLink(url: string | null | undefined): Block[] {
  if (!url || !/^https?:\/\/[^\s\p{Cc}]+$/iu.test(url) || !URL.canParse(url)) return []
  return [{ link: url, label: 'Manage billing' }]
}

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
    case 'signup_attempt':
      return compose('Someone tried to sign up with your email', 'You already have an account', [
        {
          text: 'Someone just tried to create a new account with this email address. An account with this address already exists, so no new account was created.',
        },
        {
          text: 'If it was you, sign in instead; if you forgot your password, use "Forgot password" on the sign-in page. If it was not you, you can ignore this email: nothing changed on your account.',
        },
      ])
    case 'invitation': {
      const account = oneLine(mail.account_name)
      const inviter = mail.inviter ? oneLine(mail.inviter) : undefined
      const role = mail.role === 'member' ? 'a member' : `an ${mail.role}`
      return compose(`You are invited to join ${account}`, `Join ${account}`, [
        {
          text: `${inviter ?? 'Someone'} invited you to join ${account} on plangate as ${role}.`,
        },
        { link: appLink(config.APP_URL, 'accept-invitation', mail.token), label: 'Accept the invitation' },
        {
          text: `Sign in with this email address to accept (or create an account with it first, and verify it). The link works once and expires on ${formatDate(mail.expires_at)}. If you do not know this account, you can ignore this email.`,
        },
      ])
    }
    case 'subscription_started': {
      const subject = `Your subscription to ${mail.plan_name} has started`
      const price = `${formatMoney(mail.amount_cents, mail.currency)} per ${mail.interval}`
      const free = mail.amount_cents === 0
      const terms = mail.trial_end
        ? `Your free trial runs until ${formatDate(mail.trial_end)}.${free ? '' : ` After that, the plan costs ${price}.`}`
        : free
          ? 'The plan is free of charge.'
          : `The plan costs ${price}.`
      return compose(subject, subject, [
        { text: `Thank you for subscribing to ${mail.plan_name}.` },
        { text: terms },
        { text: 'You can change or cancel your subscription at any time.' },
        ...billingLink(mail.billing_url),
      ])
    }
    case 'subscription_renewed': {
      const subject = `Your subscription to ${mail.plan_name} was renewed`
      return compose(subject, subject, [
        { text: `Your subscription to ${mail.plan_name} was renewed until ${formatDate(mail.period_end)}.` },
        {
          text:
            mail.amount_cents === 0
              ? 'There is nothing to pay for this period.'
              : `${formatMoney(mail.amount_cents, mail.currency)} was billed for this period.`,
        },
        ...billingLink(mail.billing_url),
      ])
    }
    case 'subscription_changed': {
      const when = formatDate(mail.effective_at)
      const now = mail.effective === 'now'
      const subject = now
        ? `Your plan changed to ${mail.to_plan}`
        : `Your plan changes to ${mail.to_plan} on ${when}`
      const blocks: Block[] = now
        ? [{ text: `Your subscription moved from ${mail.from_plan} to ${mail.to_plan} on ${when}.` }]
        : [
            { text: `Your subscription will move from ${mail.from_plan} to ${mail.to_plan} on ${when}.` },
            { text: `Until then, nothing changes: you keep ${mail.from_plan}.` },
          ]
      if (mail.amount_cents != null && mail.currency) {
        const money = formatMoney(mail.amount_cents, mail.currency)
        blocks.push({
          text: now
            ? `${money} was billed for the change.`
            : `From then on, the price is ${money} per billing period.`,
        })
      }
      return compose(subject, subject, [...blocks, ...billingLink(mail.billing_url)])
    }
    case 'subscription_canceled': {
      const until = formatDate(mail.ends_at)
      if (mail.immediately) {
        const subject = `Your subscription to ${mail.plan_name} has ended`
        return compose(subject, subject, [
          { text: `Your subscription to ${mail.plan_name} was canceled and ended on ${until}.` },
          { text: 'You will not be billed again. You can subscribe again at any time.' },
          ...billingLink(mail.billing_url),
        ])
      }
      const subject = `Your subscription to ${mail.plan_name} was canceled`
      return compose(subject, subject, [
        { text: `Your subscription to ${mail.plan_name} was canceled. You keep access until ${until}.` },
        {
          text: `Changed your mind? You can resume the subscription before ${until} and it continues as before. Otherwise it ends on that day, and you will not be billed again.`,
        },
        ...billingLink(mail.billing_url),
      ])
    }
    case 'payment_failed': {
      const money = formatMoney(mail.amount_cents, mail.currency)
      const until = formatDate(mail.grace_until)
      if (mail.reminder) {
        const subject = `Your access to ${mail.plan_name} ends on ${until}`
        return compose(subject, subject, [
          {
            text: `We still could not collect the payment of ${money} for your subscription to ${mail.plan_name}.`,
          },
          { text: `Your access ends on ${until} unless you update your payment method before then.` },
          ...billingLink(mail.billing_url),
        ])
      }
      const subject = `Payment for ${mail.plan_name} failed`
      return compose(subject, subject, [
        { text: `We could not collect the payment of ${money} for your subscription to ${mail.plan_name}.` },
        {
          text: `Your access continues until ${until}. Please update your payment method before then to keep your subscription.`,
        },
        ...billingLink(mail.billing_url),
      ])
    }
    case 'trial_ending': {
      const when = formatDate(mail.trial_end)
      const subject = `Your trial of ${mail.plan_name} ends on ${when}`
      return compose(subject, subject, [
        { text: `Your free trial of ${mail.plan_name} ends on ${when}.` },
        {
          text: 'To keep your subscription going without a break, check that your payment method is up to date. If you do not want to continue, cancel before the trial ends.',
        },
        ...billingLink(mail.billing_url),
      ])
    }
  }
}
