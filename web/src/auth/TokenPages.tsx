// The pages behind the links in emails: verify an address, choose a new password, accept an
// invitation. Each reads `token` from its link and says plainly what happened; a link that is used
// or expired leads to a new one.
import { PlangateError, unwrap } from '@plangate/sdk'
import { type FormEvent, useEffect, useRef, useState } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, messageOf, useSession } from '../lib/session.ts'
import { AuthFrame, Button, Field, Notice } from '../ui/kit.tsx'

/** The API's answer to a token that is unknown, used or expired (400 on `body.token`). */
function isDeadLink(error: unknown): boolean {
  return (
    error instanceof PlangateError &&
    error.code === 'validation_failed' &&
    Array.isArray(error.problem.errors) &&
    error.problem.errors.some((entry) => entry.location === 'body.token')
  )
}

export function VerifyEmail() {
  const [params] = useSearchParams()
  const token = params.get('token') ?? ''
  // `?resend=1`: back from signing in to ask for a new link, with no link to check.
  const resend = !token && params.get('resend') === '1'
  const [outcome, setOutcome] = useState<{ ok: boolean; message: string } | null>(null)
  const sent = useRef(false)
  useEffect(() => {
    if (sent.current || resend) return
    sent.current = true
    if (!token) {
      setOutcome({ ok: false, message: 'This link has no token. Open the link from the email again.' })
      return
    }
    void (async () => {
      try {
        unwrap(await api.POST('/v1/auth/email/verify', { body: { token } }))
        setOutcome({ ok: true, message: 'Your email address is verified.' })
      } catch (caught) {
        setOutcome({
          ok: false,
          message: isDeadLink(caught)
            ? 'This verification link has expired or was already used.'
            : messageOf(caught),
        })
      }
    })()
  }, [token, resend])

  if (resend)
    return (
      <AuthFrame title="Verify your email">
        <ResendVerification />
      </AuthFrame>
    )
  return (
    <AuthFrame title="Verify your email">
      {!outcome && <p aria-live="polite">Checking the link…</p>}
      {outcome?.ok && (
        <>
          <Notice kind="success">{outcome.message}</Notice>
          <p className="links">
            <Link to="/app">Continue</Link>
          </p>
        </>
      )}
      {outcome && !outcome.ok && (
        <>
          <Notice kind="error">{outcome.message}</Notice>
          <ResendVerification />
        </>
      )}
    </AuthFrame>
  )
}

/**
 * Asks for a new verification email: for the signed-in person, to their own address (anyone else
 * signs in first and comes back here).
 */
function ResendVerification() {
  const session = useSession()
  const [outcome, setOutcome] = useState<'sent' | 'verified' | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const send = async () => {
    setBusy(true)
    setError(null)
    try {
      unwrap(await api.POST('/v1/auth/email/verify/request'))
      setOutcome('sent')
    } catch (caught) {
      if (caught instanceof PlangateError && caught.code === 'conflict') setOutcome('verified')
      else setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  if (session.status === 'unknown') return null
  if (session.status !== 'signed-in') {
    return (
      <p>
        Verification links work once and expire after 24 hours.{' '}
        <Link to={`/sign-in?next=${encodeURIComponent('/verify-email?resend=1')}`}>Sign in</Link> to ask for a
        new one.
      </p>
    )
  }
  if (outcome === 'sent')
    return (
      <Notice kind="success">A new link is on its way to your address. It works once, for 24 hours.</Notice>
    )
  if (outcome === 'verified')
    return (
      <>
        <Notice kind="info">Your email address is already verified: there is nothing more to do.</Notice>
        <p className="links">
          <Link to="/app">Continue</Link>
        </p>
      </>
    )
  return (
    <>
      <p>Verification links work once and expire after 24 hours. Ask for a new one here.</p>
      {error && <Notice kind="error">{error}</Notice>}
      <Button type="button" busy={busy} onClick={() => void send()}>
        Email me a new link
      </Button>
    </>
  )
}

export function ForgotPassword() {
  const [params] = useSearchParams()
  const [email, setEmail] = useState(params.get('email') ?? '')
  const [sent, setSent] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      unwrap(await api.POST('/v1/auth/password/forgot', { body: { email } }))
      setSent(true)
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  return (
    <AuthFrame title="Forgot your password?">
      {sent ? (
        <Notice kind="success">
          If {email} has an account, a link to choose a new password is on its way. It works once, for 30
          minutes.
        </Notice>
      ) : (
        <form onSubmit={submit}>
          {error && <Notice kind="error">{error}</Notice>}
          <Field
            label="Email"
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            autoComplete="email"
            required
          />
          <Button busy={busy}>Email me a link</Button>
        </form>
      )}
      <p className="links">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </AuthFrame>
  )
}

export function ResetPassword() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const token = params.get('token') ?? ''
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  // The link cannot work (none, used or expired): no form, the way to a new one instead.
  const [dead, setDead] = useState(!token)
  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      unwrap(await api.POST('/v1/auth/password/reset', { body: { token, new_password: password } }))
      void navigate('/sign-in?reset=1', { replace: true })
    } catch (caught) {
      if (isDeadLink(caught)) setDead(true)
      else setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  if (dead)
    return (
      <AuthFrame title="Choose a new password">
        <Notice kind="error">
          {token
            ? 'This link has expired or was already used.'
            : 'This link has no token. Open the link from the email again.'}
        </Notice>
        <p>Password reset links work once, for 30 minutes.</p>
        <p className="links">
          <Link to="/forgot-password">Ask for a new link</Link>
          <Link to="/sign-in">Back to sign in</Link>
        </p>
      </AuthFrame>
    )
  return (
    <AuthFrame title="Choose a new password">
      {error && <Notice kind="error">{error}</Notice>}
      <form onSubmit={submit}>
        <Field
          label="New password"
          name="new_password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          required
        />
        <Button busy={busy}>Save the new password</Button>
      </form>
    </AuthFrame>
  )
}

export function AcceptInvitation() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const session = useSession()
  const token = params.get('token') ?? ''
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const here = `/accept-invitation?token=${encodeURIComponent(token)}`

  const accept = async () => {
    setBusy(true)
    setError(null)
    try {
      const { account } = unwrap(await api.POST('/v1/invitations/accept', { body: { token } }))
      void navigate(`/app/accounts/${account.id}`, { replace: true })
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }

  return (
    <AuthFrame title="Join an account">
      {error && <Notice kind="error">{error}</Notice>}
      {session.status === 'signed-in' ? (
        <>
          <p>
            You were invited to join an account. Accepting adds you to it with the role of the invitation.
          </p>
          <Button type="button" busy={busy} onClick={() => void accept()}>
            Accept the invitation
          </Button>
        </>
      ) : (
        <p>
          Sign in with the invited address to accept:{' '}
          <Link to={`/sign-in?next=${encodeURIComponent(here)}`}>sign in</Link> or{' '}
          <Link to={`/sign-up?next=${encodeURIComponent(here)}`}>create an account</Link>.
        </p>
      )}
    </AuthFrame>
  )
}
