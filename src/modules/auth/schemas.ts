import { z } from 'zod'

/** The identity providers a user can sign in with. */
export const providerNames = ['google', 'github'] as const
export type ProviderName = (typeof providerNames)[number]

/** Where a user came from: registered here (`local`) or first signed in through a provider. */
export const userProviders = ['local', ...providerNames] as const
export type UserProvider = (typeof userProviders)[number]

export const Email = z
  .email()
  .max(254)
  .transform((value) => value.trim())
  .describe('Email address (unique, case-insensitive).')

export const passwordMaxLength = 256

/** The one wording of the length rule; the number is PASSWORD_MIN_LENGTH, wherever it is shown. */
export const passwordLengthRule = (minLength: number) => `at least ${minLength} characters`

/**
 * A new password. The minimum comes from PASSWORD_MIN_LENGTH (config), so validation, its error
 * message and the OpenAPI document (`minLength`) all show the configured number; the strength
 * check (zxcvbn) follows in `assertStrongPassword`.
 */
export const newPassword = (minLength: number) =>
  z
    .string()
    .min(minLength, passwordLengthRule(minLength))
    .max(passwordMaxLength, `at most ${passwordMaxLength} characters`)
    .describe(
      `${passwordLengthRule(minLength)} (at most ${passwordMaxLength}), and hard to guess: common and breached passwords, names and patterns are refused.`,
    )

export const Username = z
  .string()
  .min(3)
  .max(40)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, dot, dash and underscore')

export const registerBody = (passwordMinLength: number) =>
  z
    .object({
      email: Email,
      password: newPassword(passwordMinLength),
      username: Username.optional(),
      name: z.string().trim().min(1).max(120).optional(),
    })
    .meta({
      example: {
        email: 'ann@example.com',
        password: 'a long passphrase of mine',
        username: 'ann',
        name: 'Ann Smith',
      },
    })
export type RegisterBody = z.infer<ReturnType<typeof registerBody>>

export const TokenBody = z
  .object({
    grant_type: z.enum(['password', 'refresh_token']).optional().describe('Defaults to `password`.'),
    username: z.string().min(1).max(254).optional().describe('Email or username.'),
    email: z
      .string()
      .min(1)
      .max(254)
      .optional()
      .describe('The email, as registration takes it; the same as `username` (send one of the two).'),
    password: z.string().min(1).max(passwordMaxLength).optional(),
    refresh_token: z.string().min(1).max(200).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.grant_type ?? 'password') === 'password') {
      if (!body.username && !body.email)
        ctx.addIssue({ code: 'custom', path: ['username'], message: 'required (or `email`)' })
      if (body.username && body.email)
        ctx.addIssue({ code: 'custom', path: ['email'], message: 'send `username` or `email`, not both' })
      if (!body.password) ctx.addIssue({ code: 'custom', path: ['password'], message: 'required' })
    }
  })
  .meta({
    description:
      'JSON or application/x-www-form-urlencoded, as an OAuth2 token endpoint. With the password grant, the user is named by `username` (email or username) or `email`.',
    example: { email: 'owner@example.com', password: 'a long passphrase' },
  })
export type TokenBody = z.infer<typeof TokenBody>

export const RefreshBody = z
  .object({ refresh_token: z.string().min(1).max(200).optional().describe('Or the `refresh_token` cookie.') })
  // Fastify validates a request without a body as `null`: a cookie-only refresh or logout has none.
  .nullish()
  .meta({ example: { refresh_token: 'pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e' } })

export const TokenResponse = z
  .object({
    access_token: z.string(),
    token_type: z.literal('bearer'),
    expires_in: z.number().int().describe('Seconds until the access token expires.'),
    refresh_token: z.string().describe('Opaque; single use: every refresh returns a new one.'),
  })
  .meta({
    example: {
      access_token: 'eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiIwMTkyZjVjNCJ9.c2lnbmF0dXJl',
      token_type: 'bearer',
      expires_in: 900,
      refresh_token: 'pgr_Yp3Vb8sKq2mN5tW9xZ1aC4dF7gH0jL6e',
    },
  })
export type TokenResponse = z.infer<typeof TokenResponse>

export const User = z
  .object({
    id: z.uuid(),
    email: z.string(),
    username: z.string().nullable(),
    name: z.string().nullable(),
    image_url: z.string().nullable(),
    provider: z.enum(userProviders),
    is_verified: z.boolean(),
    is_admin: z.boolean(),
    is_active: z.boolean(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({
    id: 'User',
    example: {
      id: '0192f5c4-7a1e-7c3b-9d2e-4f5a6b7c8d90',
      email: 'ann@example.com',
      username: 'ann',
      name: 'Ann Smith',
      image_url: null,
      provider: 'local',
      is_verified: true,
      is_admin: false,
      is_active: true,
      created_at: '2026-11-01T09:00:00.000Z',
      updated_at: '2026-11-02T10:30:00.000Z',
    },
  })
export type User = z.infer<typeof User>

export const UpdateMeBody = z
  .object({
    name: z.string().trim().min(1).max(120).nullable().optional(),
    username: Username.nullable().optional(),
    image_url: z
      .url({ protocol: /^https?$/ })
      .max(2000)
      .nullable()
      .optional(),
  })
  .strict()
  .meta({ example: { name: 'Ann Smith', username: 'ann', image_url: 'https://images.example.com/ann.png' } })
export type UpdateMeBody = z.infer<typeof UpdateMeBody>

export const Jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({
  example: {
    keys: [
      {
        kty: 'OKP',
        crv: 'Ed25519',
        x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
        kid: 'k1',
        alg: 'EdDSA',
        use: 'sig',
      },
    ],
  },
})

export const TokenBodyOnly = z
  .object({
    token: z.string().min(1).max(200).describe('The `token` of the emailed link.'),
  })
  .meta({ example: { token: 'pgv_Q8wE3rT6yU9iO2pA5sD8fG1hJ4kL7zX0' } })

export const EmailBody = z
  .object({ email: z.string().trim().min(3).max(254).describe('The account email.') })
  .meta({ example: { email: 'ann@example.com' } })

export const resetPasswordBody = (passwordMinLength: number) =>
  z
    .object({
      token: z.string().min(1).max(200).describe('The `token` of the reset link.'),
      new_password: newPassword(passwordMinLength),
    })
    .meta({
      example: { token: 'pgr_M3nB6vC9xZ2lK5jH8gF1dS4aP7oI0uY', new_password: 'another long passphrase' },
    })

export const changePasswordBody = (passwordMinLength: number) =>
  z
    .object({
      current_password: z.string().min(1).max(passwordMaxLength),
      new_password: newPassword(passwordMinLength),
    })
    .meta({
      example: { current_password: 'a long passphrase of mine', new_password: 'another long passphrase' },
    })

export const LoginCodeBody = z
  .object({
    email: z.string().trim().min(3).max(254),
    code: z
      .string()
      .regex(/^\d{6}$/, 'six digits')
      .describe('The 6-digit code from the email.'),
  })
  .meta({ example: { email: 'ann@example.com', code: '493817' } })

export const Accepted = z
  .object({ status: z.literal('accepted') })
  .describe('Accepted; an email follows if the address belongs to an active account.')
  .meta({ example: { status: 'accepted' } })

export const ProviderParams = z.object({
  provider: z.enum(providerNames).describe('The identity provider.'),
})

/**
 * A path of the web UI to go to after signing in: one leading slash (never `//` or `/\`, which
 * browsers read as another host), no whitespace or backslash. Anything else would be an open redirect.
 */
export const appPathPattern = /^\/(?:[^/\\\s][^\\\s]{0,198})?$/

export const StartQuery = z.object({
  redirect: z
    .enum(['app'])
    .optional()
    .describe(
      '`app`: a sign-in from the web UI. The callback then ends on the UI (302 to `APP_URL/sign-in?oauth=complete&next=…` with the refresh cookie set, or `?oauth_error=<code>`) instead of answering JSON.',
    ),
  next: z
    .string()
    .regex(appPathPattern, 'a path of this site, starting with one /')
    .optional()
    .describe('With `redirect=app`: the UI path to go to once signed in (default `/app`).'),
})
export type StartQuery = z.infer<typeof StartQuery>

export const SignInOptions = z
  .object({
    password: z.literal(true).describe('Email (or username) and password: `POST /v1/auth/token`.'),
    login_code: z
      .literal(true)
      .describe('A one-time code by email: `POST /v1/auth/login-code/request`, then `/verify`.'),
    oauth: z
      .array(
        z.object({
          provider: z.enum(providerNames),
          label: z.string().describe('The name to show on the button.'),
          start_url: z
            .string()
            .describe(
              'Open in the browser (not with fetch) to sign in; add `?redirect=app` to end on the web UI.',
            ),
        }),
      )
      .describe(
        'The identity providers configured on this instance (none when no client id and secret is set).',
      ),
  })
  .meta({
    id: 'SignInOptions',
    example: {
      password: true,
      login_code: true,
      oauth: [
        { provider: 'google', label: 'Google', start_url: '/v1/auth/oauth/google/start' },
        { provider: 'github', label: 'GitHub', start_url: '/v1/auth/oauth/github/start' },
      ],
    },
  })
export type SignInOptions = z.infer<typeof SignInOptions>

export const CallbackQuery = z.object({
  code: z.string().min(1).max(2048).optional().describe('The authorization code (absent when refused).'),
  state: z.string().min(1).max(512).describe('Must equal the state /start put in the flow cookie.'),
  error: z
    .string()
    .max(200)
    .optional()
    .describe('Set by the provider when the user declined (e.g. `access_denied`).'),
})
export type CallbackQuery = z.infer<typeof CallbackQuery>

// What the identity providers answer (parsed in oauth.ts; an unexpected shape is their fault, 503).

const optionalText = z
  .string()
  .nullish()
  .transform((value) => (value ? value : null))

// Google's OpenID Connect userinfo (https://developers.google.com/identity/openid-connect/openid-connect#obtainuserinfo).
export const GoogleUserinfo = z.object({
  sub: z.string().min(1),
  email: optionalText,
  email_verified: z
    .union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
    .optional(),
  name: optionalText,
  picture: optionalText,
})

// GitHub's GET /user and GET /user/emails (https://docs.github.com/en/rest/users).
export const GitHubUser = z.object({
  id: z.number().int(),
  login: z.string().min(1),
  name: optionalText,
  email: optionalText,
  avatar_url: optionalText,
})
export const GitHubEmails = z.array(
  z.object({ email: z.string().min(1), primary: z.boolean(), verified: z.boolean() }).loose(),
)

/** A token endpoint's answer: GitHub answers a refused code with 200 and an `error` member. */
export const ProviderTokenAnswer = z.union([
  z.object({ error: z.string() }),
  z.object({ access_token: z.string().min(1), token_type: z.string().optional() }),
])
