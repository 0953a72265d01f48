// The few building blocks every page uses: labelled fields, buttons, notices and page frames.
// Plain elements with classes from styles.css; nothing here sets a style attribute.
import { type ReactNode, useEffect, useId, useRef, useState } from 'react'
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
  // Busy or disabled is said with aria-disabled and clicks are ignored, rather than the disabled
  // attribute: a focused button that becomes disabled drops the focus to the page's body, and a
  // keyboard user would have to find their place again after every action.
  const inactive = props.busy || props.disabled
  return (
    <button
      type={props.type ?? 'submit'}
      className={`button button-${props.kind ?? 'primary'}`}
      aria-disabled={inactive || undefined}
      aria-busy={props.busy || undefined}
      onClick={(event) => {
        if (inactive) {
          // Also stops a submit button's form from being sent (by a click or Enter in a field).
          event.preventDefault()
          return
        }
        props.onClick?.()
      }}
    >
      {props.children}
    </button>
  )
}

/**
 * For an action that may remove the focused element (a row's Remove button): `ref` goes on a
 * fallback (a heading with tabIndex -1), and `after()` is called once the action's changes are
 * set; when they are on screen and the focus was lost to the page's body, the fallback gets it.
 */
export function useFocusFallback<T extends HTMLElement>() {
  const ref = useRef<T>(null)
  const [requested, setRequested] = useState(0)
  useEffect(() => {
    if (requested === 0) return
    const active = document.activeElement
    if (!active || active === document.body) ref.current?.focus()
  }, [requested])
  return { ref, after: () => setRequested((n) => n + 1) }
}

/**
 * For a region that opens in the page (a preview, a confirmation): its heading (`ref`, with
 * tabIndex -1) gets the focus when it opens, and when it closes the focus goes back to what
 * opened it (when that is still on the page and the focus was lost with the region).
 */
export function useFocusWhileOpen<T extends HTMLElement>() {
  const ref = useRef<T>(null)
  // What had the focus when the region first rendered (kept across effects that run again).
  const [opener] = useState(() =>
    document.activeElement instanceof HTMLElement ? document.activeElement : null,
  )
  useEffect(() => {
    ref.current?.focus()
    return () => {
      const active = document.activeElement
      if (opener?.isConnected && (!active || active === document.body)) opener.focus()
    }
  }, [opener])
  return ref
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
