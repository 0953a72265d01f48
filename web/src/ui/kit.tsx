// The few building blocks every page uses: labelled fields, buttons, notices and page frames.
// Plain elements with classes from styles.css; nothing here sets a style attribute.
import { type ReactNode, useId } from 'react'
import { Link } from 'react-router'

export function Field(props: {
  label: string
  name: string
  type?: 'text' | 'email' | 'password' | 'number' | 'search'
  value: string
  onChange: (value: string) => void
  autoComplete?: string
  required?: boolean
  hint?: string
  minLength?: number
  inputMode?: 'numeric' | 'text' | 'email'
}) {
  const id = useId()
  const hintId = props.hint ? `${id}-hint` : undefined
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value}
        onChange={(event) => props.onChange(event.target.value)}
        autoComplete={props.autoComplete}
        required={props.required}
        minLength={props.minLength}
        inputMode={props.inputMode}
        aria-describedby={hintId}
      />
      {props.hint && (
        <p className="hint" id={hintId}>
          {props.hint}
        </p>
      )}
    </div>
  )
}

/** An error or a success, announced to screen readers when it appears. */
export function Notice({ kind, children }: { kind: 'error' | 'success' | 'info'; children: ReactNode }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  )
}

export function Button(props: {
  children: ReactNode
  busy?: boolean
  kind?: 'primary' | 'secondary' | 'danger'
  type?: 'submit' | 'button'
  onClick?: () => void
  disabled?: boolean
}) {
  return (
    <button
      type={props.type ?? 'submit'}
      className={`button button-${props.kind ?? 'primary'}`}
      disabled={props.busy || props.disabled}
      aria-busy={props.busy || undefined}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  )
}

/** The frame of the sign-in pages: the product name and one card. */
export function AuthFrame({
  title,
  children,
  footer,
}: {
  title: string
  children: ReactNode
  footer?: ReactNode
}) {
  return (
    <div className="auth">
      <header className="auth-brand">
        <Link to="/">plangate</Link>
      </header>
      <main className="card auth-card">
        <h1>{title}</h1>
        {children}
      </main>
      {footer && <footer className="auth-footer">{footer}</footer>}
    </div>
  )
}
