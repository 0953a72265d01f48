import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { Link, useNavigate, useSearchParams } from 'react-router'
import { api, messageOf, signIn, signInWith } from '../lib/session.ts'
import { AuthFrame, Button, Field, Notice } from '../ui/kit.tsx'

/** Where to go after signing in: the page that sent the person here, if it is one of ours. */
export function nextPath(params: URLSearchParams): string {
  const next = params.get('next')
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/app'
}

export function SignIn() {
  const [params] = useSearchParams()
  const navigate = useNavigate()
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
      {error && <Notice kind="error">{error}</Notice>}
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
