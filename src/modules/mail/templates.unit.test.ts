// The subscription emails: facts in the subject and both bodies, money and dates formatted for the
// reader, the billing link only when it is safe, and payloads checked when a job is parsed.
import { describe, expect, it } from 'vitest'
import { formatDate, formatMoney, MailTemplate, type RenderedMail, renderMail } from './templates.ts'

const config = { APP_URL: 'http://plangate.test' }
const billingUrl = 'https://billing.example.com/portal?session=a&b=1'

type SubscriptionMail = Extract<
  MailTemplate,
  {
    template:
      | 'subscription_started'
      | 'subscription_renewed'
      | 'subscription_changed'
      | 'subscription_canceled'
      | 'payment_failed'
      | 'trial_ending'
  }
>

/** One of each subscription template, with `plan` as every plan name. */
const examples = (plan: string, billing_url?: string | null): SubscriptionMail[] => [
  {
    template: 'subscription_started',
    plan_name: plan,
    amount_cents: 1999,
    currency: 'usd',
    interval: 'month',
    billing_url,
  },
  {
    template: 'subscription_renewed',
    plan_name: plan,
    amount_cents: 1999,
    currency: 'usd',
    period_end: '2027-03-03T00:00:00.000Z',
    billing_url,
  },
  {
    template: 'subscription_changed',
    from_plan: plan,
    to_plan: plan,
    effective: 'now',
    effective_at: '2027-03-03T12:00:00.000Z',
    billing_url,
  },
  {
    template: 'subscription_canceled',
    plan_name: plan,
    ends_at: '2027-03-03T00:00:00.000Z',
    immediately: false,
    billing_url,
  },
  {
    template: 'payment_failed',
    plan_name: plan,
    amount_cents: 1999,
    currency: 'usd',
    grace_until: '2027-03-03T00:00:00.000Z',
    billing_url,
  },
  { template: 'trial_ending', plan_name: plan, trial_end: '2027-03-03T00:00:00.000Z', billing_url },
]

/** The fact appears in the subject or heading, in the plain text and in the HTML. */
function expectFact(rendered: RenderedMail, fact: string) {
  expect(rendered.text).toContain(fact)
  expect(rendered.html).toContain(fact)
}

describe('money and date formatting', () => {
  it('formats minor units with the currency’s own fraction digits', () => {
    expect(formatMoney(1999, 'usd')).toBe('$19.99')
    expect(formatMoney(0, 'EUR')).toBe('€0.00')
    expect(formatMoney(1500, 'jpy')).toBe('¥1,500')
    expect(formatMoney(12345, 'bhd')).toMatch(/^BHD\s12\.345$/)
  })

  it('gives the calendar day in UTC, whatever the time of day', () => {
    expect(formatDate('2027-03-03T00:00:00.000Z')).toBe('March 3, 2027')
    expect(formatDate('2027-03-03T23:59:59Z')).toBe('March 3, 2027')
  })
})

describe('subscription emails', () => {
  it.each(examples('Pro'))('renders $template as a subject, a plain-text part and an HTML part', (mail) => {
    const rendered = renderMail(mail, config)
    expect(rendered.subject).toContain('Pro')
    expect(rendered.text.startsWith(rendered.subject)).toBe(true)
    expect(rendered.text).not.toMatch(/<[a-z/!]/i)
    expect(rendered.text).not.toContain('Invalid Date')
    expect(rendered.html).toMatch(/^<!doctype html>/)
    expect(rendered.html).toContain(`<title>${rendered.subject}</title>`)
    expect(rendered.text).toMatch(/\n\n-- \nplangate$/)
  })

  it('starts a subscription with its price per interval, and names the trial end when there is one', () => {
    const paid = renderMail(
      {
        template: 'subscription_started',
        plan_name: 'Pro',
        amount_cents: 1999,
        currency: 'usd',
        interval: 'month',
        trial_end: null,
      },
      config,
    )
    expect(paid.subject).toBe('Your subscription to Pro has started')
    expectFact(paid, '$19.99 per month')
    expect(paid.text).not.toMatch(/trial/i)

    const trial = renderMail(
      {
        template: 'subscription_started',
        plan_name: 'Pro',
        amount_cents: 24000,
        currency: 'eur',
        interval: 'year',
        trial_end: '2027-03-03T09:00:00.000Z',
      },
      config,
    )
    expectFact(
      trial,
      'Your free trial runs until March 3, 2027. After that, the plan costs €240.00 per year.',
    )

    const yen = renderMail(
      {
        template: 'subscription_started',
        plan_name: 'Pro',
        amount_cents: 1500,
        currency: 'JPY',
        interval: 'month',
      },
      config,
    )
    expectFact(yen, '¥1,500 per month')

    const free = renderMail(
      {
        template: 'subscription_started',
        plan_name: 'Hobby',
        amount_cents: 0,
        currency: 'usd',
        interval: 'month',
      },
      config,
    )
    expectFact(free, 'free of charge')
    expect(free.text).not.toContain('$')
  })

  it('renews until the period end and says what was billed', () => {
    const renewed = renderMail(
      {
        template: 'subscription_renewed',
        plan_name: 'Team',
        amount_cents: 4900,
        currency: 'usd',
        period_end: '2027-04-03T00:00:00.000Z',
      },
      config,
    )
    expect(renewed.subject).toBe('Your subscription to Team was renewed')
    expectFact(renewed, 'renewed until April 3, 2027')
    expectFact(renewed, '$49.00 was billed')
  })

  it('tells of a plan change now with its charge, or of a change scheduled for the period end', () => {
    const now = renderMail(
      {
        template: 'subscription_changed',
        from_plan: 'Pro',
        to_plan: 'Team',
        effective: 'now',
        effective_at: '2027-03-03T12:00:00.000Z',
        amount_cents: 1250,
        currency: 'usd',
      },
      config,
    )
    expect(now.subject).toBe('Your plan changed to Team')
    expectFact(now, 'from Pro to Team on March 3, 2027')
    expectFact(now, '$12.50 was billed for the change')

    const later = renderMail(
      {
        template: 'subscription_changed',
        from_plan: 'Team',
        to_plan: 'Pro',
        effective: 'period_end',
        effective_at: '2027-04-03T00:00:00.000Z',
        amount_cents: 1999,
        currency: 'usd',
      },
      config,
    )
    expect(later.subject).toBe('Your plan changes to Pro on April 3, 2027')
    expectFact(later, 'will move from Team to Pro on April 3, 2027')
    expectFact(later, 'you keep Team')
    expectFact(later, '$19.99 per billing period')

    const noAmount = renderMail(
      {
        template: 'subscription_changed',
        from_plan: 'Pro',
        to_plan: 'Team',
        effective: 'now',
        effective_at: '2027-03-03T12:00:00.000Z',
        amount_cents: null,
        currency: null,
      },
      config,
    )
    expect(noAmount.text).not.toMatch(/billed|\$/)
  })

  it('keeps access until the end of a canceled period and offers to resume; an immediate cancel ends it', () => {
    const atPeriodEnd = renderMail(
      {
        template: 'subscription_canceled',
        plan_name: 'Pro',
        ends_at: '2027-03-31T00:00:00.000Z',
        immediately: false,
      },
      config,
    )
    expect(atPeriodEnd.subject).toBe('Your subscription to Pro was canceled')
    expectFact(atPeriodEnd, 'You keep access until March 31, 2027')
    expectFact(atPeriodEnd, 'resume the subscription before March 31, 2027')

    const immediately = renderMail(
      {
        template: 'subscription_canceled',
        plan_name: 'Pro',
        ends_at: '2027-03-03T10:00:00.000Z',
        immediately: true,
      },
      config,
    )
    expect(immediately.subject).toBe('Your subscription to Pro has ended')
    expectFact(immediately, 'ended on March 3, 2027')
    expect(immediately.text).not.toMatch(/resume|keep access/i)
  })

  it('tells of a failed payment with the grace period, and the reminder says when access ends', () => {
    const payment = {
      template: 'payment_failed',
      plan_name: 'Pro',
      amount_cents: 1999,
      currency: 'usd',
      grace_until: '2027-03-10T00:00:00.000Z',
    } as const
    const first = renderMail(payment, config)
    expect(first.subject).toBe('Payment for Pro failed')
    expectFact(first, 'payment of $19.99')
    expectFact(first, 'access continues until March 10, 2027')
    expectFact(first, 'update your payment method')

    const reminder = renderMail({ ...payment, reminder: true }, config)
    expect(reminder.subject).toBe('Your access to Pro ends on March 10, 2027')
    expectFact(reminder, 'Your access ends on March 10, 2027')
    expectFact(reminder, 'update your payment method')
    expect(reminder.text).not.toBe(first.text)
  })

  it('warns before a trial ends', () => {
    const ending = renderMail(
      { template: 'trial_ending', plan_name: 'Pro', trial_end: '2027-03-03T00:00:00.000Z' },
      config,
    )
    expect(ending.subject).toBe('Your trial of Pro ends on March 3, 2027')
    expectFact(ending, 'Your free trial of Pro ends on March 3, 2027')
  })

  it.each(examples('<b>Pro & Co</b>'))('escapes the plan name in the HTML of $template', (mail) => {
    const rendered = renderMail(mail, config)
    expect(rendered.html).not.toContain('<b>')
    expect(rendered.html).toContain('&lt;b&gt;Pro &amp; Co&lt;/b&gt;')
    expect(rendered.text).toContain('<b>Pro & Co</b>')
  })

  it.each(examples('Pro', billingUrl))(
    'links "Manage billing" in $template to the billing URL as given',
    (mail) => {
      const rendered = renderMail(mail, config)
      expect(rendered.text).toContain(`Manage billing:\n${billingUrl}`)
      expect(rendered.html).toContain(`href="${billingUrl.replace('&', '&amp;')}"`)
    },
  )

  it.each([
    'javascript:alert(1)',
    'JavaScript://example.com/%0Aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    'mailto:billing@example.com',
    '/billing',
    'https://',
    'https://example.com/a\nb',
    ' https://example.com/',
    '',
    null,
    undefined,
  ])('leaves the billing link out for %j', (url) => {
    for (const mail of examples('Pro', url)) {
      const rendered = renderMail(mail, config)
      expect(rendered.text).not.toContain('Manage billing')
      expect(rendered.html).not.toContain('href=')
      expect(rendered.html).not.toMatch(/javascript:|data:|mailto:/i)
    }
  })
})

describe('subscription email payloads', () => {
  const started = {
    template: 'subscription_started',
    plan_name: 'Pro',
    amount_cents: 1999,
    currency: 'usd',
    interval: 'month',
    trial_end: '2027-03-03T00:00:00.000Z',
    billing_url: billingUrl,
  }

  it('accepts every example as a job would carry it', () => {
    expect(MailTemplate.parse(started)).toEqual(started)
    for (const mail of examples('Pro', billingUrl)) expect(MailTemplate.parse(mail)).toEqual(mail)
  })

  it.each([
    ['a fractional amount', { amount_cents: 19.99 }],
    ['a negative amount', { amount_cents: -1 }],
    ['an amount as a string', { amount_cents: '1999' }],
    ['a currency that is not 3 letters', { currency: 'dollars' }],
    ['a currency with digits', { currency: 'u5d' }],
    ['a date that is not ISO', { trial_end: 'March 3, 2027' }],
    ['a date that does not exist', { trial_end: '2027-02-30T00:00:00Z' }],
    ['an unknown interval', { interval: 'week' }],
    ['an empty plan name', { plan_name: '' }],
    ['a missing plan name', { plan_name: undefined }],
  ])('rejects %s', (_, change) => {
    expect(MailTemplate.safeParse({ ...started, ...change }).success).toBe(false)
  })

  it('rejects missing or mistyped fields in the other templates', () => {
    expect(
      MailTemplate.safeParse({
        template: 'subscription_renewed',
        plan_name: 'Pro',
        amount_cents: 1,
        currency: 'usd',
      }).success,
    ).toBe(false)
    expect(
      MailTemplate.safeParse({
        template: 'subscription_canceled',
        plan_name: 'Pro',
        ends_at: '2027-03-03T00:00:00Z',
        immediately: 'yes',
      }).success,
    ).toBe(false)
    expect(
      MailTemplate.safeParse({
        template: 'payment_failed',
        plan_name: 'Pro',
        amount_cents: 1999,
        currency: 'usd',
        grace_until: 'tomorrow',
      }).success,
    ).toBe(false)
    expect(MailTemplate.safeParse({ template: 'trial_ending', plan_name: 'Pro' }).success).toBe(false)
  })

  it('requires a plan change to carry an amount and its currency together', () => {
    const change = {
      template: 'subscription_changed',
      from_plan: 'Pro',
      to_plan: 'Team',
      effective: 'now',
      effective_at: '2027-03-03T00:00:00Z',
    }
    expect(MailTemplate.safeParse(change).success).toBe(true)
    expect(MailTemplate.safeParse({ ...change, amount_cents: 500, currency: 'usd' }).success).toBe(true)
    expect(MailTemplate.safeParse({ ...change, amount_cents: 500 }).success).toBe(false)
    expect(MailTemplate.safeParse({ ...change, currency: 'usd' }).success).toBe(false)
    expect(MailTemplate.safeParse({ ...change, effective: 'tomorrow' }).success).toBe(false)
  })
})

describe('invitation and sign-up attempt emails', () => {
  const invitation = {
    template: 'invitation',
    token: 'tok/en+1',
    account_name: 'Chic & <Chic>',
    inviter: 'Ann',
    role: 'admin',
    expires_at: '2027-03-10T10:00:00.000Z',
  } as const

  it('invites with the account, the inviter, the role, the expiry and an APP_URL link carrying the token', () => {
    const rendered = renderMail(invitation, config)
    expect(rendered.subject).toBe('You are invited to join Chic & <Chic>')
    expect(rendered.text).toContain('Ann invited you to join Chic & <Chic> on plangate as an admin.')
    expect(rendered.text).toContain('http://plangate.test/accept-invitation?token=tok%2Fen%2B1')
    expect(rendered.text).toContain('March 10, 2027')
    // The account name is the inviter's text: escaped in HTML, never markup.
    expect(rendered.html).toContain('Chic &amp; &lt;Chic&gt;')
    expect(rendered.html).not.toContain('<Chic>')
    expect(rendered.html).toContain('href="http://plangate.test/accept-invitation?token=tok%2Fen%2B1"')
  })

  it('keeps a name with line breaks on one line, so it cannot forge headers or paragraphs', () => {
    const rendered = renderMail(
      { ...invitation, account_name: 'Salon\r\nBcc: victim@example.test', inviter: null, role: 'member' },
      config,
    )
    expect(rendered.subject).toBe('You are invited to join Salon Bcc: victim@example.test')
    expect(rendered.subject).not.toMatch(/[\r\n]/)
    expect(rendered.text).toContain(
      'Someone invited you to join Salon Bcc: victim@example.test on plangate as a member.',
    )
  })

  it('tells the owner of a taken address that someone tried to sign up with it, with no link', () => {
    const rendered = renderMail({ template: 'signup_attempt' }, config)
    expect(rendered.subject).toBe('Someone tried to sign up with your email')
    expect(rendered.text).toContain('no new account was created')
    expect(rendered.text).not.toContain('http')
    expect(rendered.html).toMatch(/^<!doctype html>/)
  })
})
