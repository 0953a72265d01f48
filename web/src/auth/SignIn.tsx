import { unwrap } from '@plangate/sdk'
import { type FormEvent, useEffect, useRef, useState } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, completeExternalSignIn, messageOf, signIn, signInWith } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { AuthFrame, Button, Field, Notice } from '../ui/kit.tsx'

/**
 * Where to go after signing in: `next` when it is a path of this site (one leading slash, no
 * backslash or whitespace, which browsers may read as another host), else the portal. The same
 * rule as the API's for the OAuth `next`.
 */
export function nextPath(params: URLSearchParams): string {
  const next = params.get('next')
  return next && /^\/(?:[^/\\\s][^\\\s]{0,198})?$/.test(next) ? next : '/app'
}

/** What a refused Google/GitHub sign-in says, by the problem code it came back with. */
const externalErrors: Record<string, string> = {
  conflict:
    'An account with this email exists, and the provider did not confirm the address. Sign in with your password, then link the provider.',
  unauthorized: 'The provider did not let you in, or this user is deactivated.',
  provider_unavailable: 'The provider did not answer. Try again in a moment.',
  validation_failed: 'The sign-in expired or was started in another browser. Try again.',
}

/** The Google/GitHub buttons the service offers (none unless configured). */
function ExternalSignIn({ next }: { next: string }) {
  const options = useLoad(async () => unwrap(await api.GET('/v1/auth/providers')), [])
  const providers = options.data?.oauth ?? []
  if (providers.length === 0) return null
  return (
    <div className="external">
      {providers.map((provider) => (
        <a
          key={provider.provider}
          className="button button-secondary"
          href={`${provider.start_url}?${new URLSearchParams({ redirect: 'app', next })}`}
        >
          Continue with {provider.label}
        </a>
      ))}
      <p className="or">or</p>
    </div>
  )
}

export function SignIn() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
  const external = params.get('oauth') === 'complete'
  const externalError = params.get('oauth_error')
  const finishing = useRef(false)
  useEffect(() => {
    if (!external || finishing.current) return
    finishing.current = true
    void (async () => {
      if (await completeExternalSignIn()) void navigate(nextPath(params), { replace: true })
      else setError('The sign-in did not complete. Try again.')
    })()
  }, [external, navigate, params])
  const [mode, setMode] = useState<'password' | 'code'>('password')
  const [email, setEmail] = useState(params.get('email') ?? '')
  const [password, setPassword] = useState('')
  const [code, setCode] = useState('')
  const [codeSent, setCodeSent] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function run(action: () => Promise<void>) {
    setBusy(true)
    setError(null)
    try {
      await action()
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }

  const submitPassword = (event: FormEvent) => {
    event.preventDefault()
    void run(async () => {
      await signIn(email, password)
      void navigate(nextPath(params), { replace: true })
    })
  }

  const submitCode = (event: FormEvent) => {
    event.preventDefault()
    void run(async () => {
      if (!codeSent) {
        unwrap(await api.POST('/v1/auth/login-code/request', { body: { email } }))
        setCodeSent(true)
        return
      }
      signInWith(unwrap(await api.POST('/v1/auth/login-code/verify', { body: { email, code } })))
      void navigate(nextPath(params), { replace: true })
    })
  }

  return (
    <AuthFrame
      title="Sign in"
      footer={
        <p>
          New here? <Link to="/sign-up">Create an account</Link>
        </p>
      }
    >
      {params.get('verified') && (
        <Notice kind="success">Your email address is verified. Sign in to continue.</Notice>
      )}
      {params.get('reset') && (
        <Notice kind="success">Your password is changed. Sign in with the new one.</Notice>
      )}
      {externalError && (
        <Notice kind="error">
          {externalErrors[externalError] ?? `The sign-in was refused (${externalError}).`}
        </Notice>
      )}
      {external && !error && <p aria-live="polite">Signing you in…</p>}
      {error && <Notice kind="error">{error}</Notice>}
      <ExternalSignIn next={nextPath(params)} />
      {mode === 'password' ? (
        <form onSubmit={submitPassword} noValidate={false}>
          <Field
            label="Email"
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            autoComplete="username"
            required
          />
          <Field
            label="Password"
            name="password"
            type="password"
            value={password}
            onChange={setPassword}
            autoComplete="current-password"
            required
          />
          <Button busy={busy}>Sign in</Button>
          <p className="links">
            <Link to={`/forgot-password${email ? `?email=${encodeURIComponent(email)}` : ''}`}>
              Forgot your password?
            </Link>
            <button type="button" className="link" onClick={() => setMode('code')}>
              Email me a sign-in code instead
            </button>
          </p>
        </form>
      ) : (
        <form onSubmit={submitCode}>
          <Field
            label="Email"
            name="email"
            type="email"
            value={email}
            onChange={setEmail}
            autoComplete="username"
            required
          />
          {codeSent && (
            <>
              <Notice kind="info">
                If the address has an account, a 6-digit code is on its way. It works for 10 minutes.
              </Notice>
              <Field
                label="Code from the email"
                name="code"
                value={code}
                onChange={setCode}
                autoComplete="one-time-code"
                inputMode="numeric"
                required
              />
            </>
          )}
          <Button busy={busy}>{codeSent ? 'Sign in' : 'Email me a code'}</Button>
          <p className="links">
            <button type="button" className="link" onClick={() => setMode('password')}>
              Use my password instead
            </button>
          </p>
        </form>
      )}
    </AuthFrame>
  )
}
