import { unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api, messageOf } from '../lib/session.ts'
import { AuthFrame, Button, Field, Notice } from '../ui/kit.tsx'

export function SignUp() {
  const [params] = useSearchParams()
  const next = params.get('next')
  const signInLink = (email?: string) =>
    `/sign-in?${new URLSearchParams({ ...(email && { email }), ...(next && { next }) })}`
  const [name, setName] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState(false)

  const submit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      unwrap(await api.POST('/v1/auth/register', { body: { email, password, ...(name && { name }) } }))
      setDone(true)
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }

  if (done) {
    return (
      <AuthFrame title="Check your email">
        <Notice kind="success">
          We sent a message to <strong>{email}</strong>. Follow its link to verify your address, then sign in.
        </Notice>
        <p className="links">
          <Link to={signInLink(email)}>Go to sign in</Link>
        </p>
      </AuthFrame>
    )
  }
  return (
    <AuthFrame
      title="Create your account"
      footer={
        <p>
          Already have one? <Link to={signInLink()}>Sign in</Link>
        </p>
      }
    >
      {error && <Notice kind="error">{error}</Notice>}
      <form onSubmit={submit}>
        <Field label="Your name" name="name" value={name} onChange={setName} autoComplete="name" />
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onChange={setEmail}
          autoComplete="email"
          required
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onChange={setPassword}
          autoComplete="new-password"
          required
          hint="A long passphrase is best; common passwords are refused."
        />
        <Button busy={busy}>Create account</Button>
      </form>
    </AuthFrame>
  )
}
