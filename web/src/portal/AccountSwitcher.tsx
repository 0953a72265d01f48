// The top bar's account switcher, for people in several accounts: a disclosure button (named for
// the account on screen) that shows their accounts as links, each to the same section of the
// other account when it has it, and a link to create a new one. It works from the keyboard: Enter
// or Space opens it, Tab walks the links, Escape closes it and returns to the button; moving focus
// out of it or following a link closes it too.
import { useEffect, useId, useRef, useState } from 'react'
import { Link, useLocation, useMatch } from 'react-router'
import { type Account, sectionFor } from './AccountLayout.tsx'
import { useAccounts } from './Accounts.tsx'

export function AccountSwitcher() {
  const match = useMatch('/app/accounts/:accountId/*')
  const accountId = match?.params.accountId ?? null
  const section = match?.params['*']?.split('/')[0] ?? ''
  const { pathname } = useLocation()
  const { accounts, reload } = useAccounts()
  // Open on the page where it was opened: following a link (a new path) closes it.
  const [openAt, setOpenAt] = useState<string | null>(null)
  const open = openAt === pathname
  const button = useRef<HTMLButtonElement>(null)
  const menuId = useId()

  // An account the list does not have yet (just created, or joined): read the list again, once.
  const checked = useRef<string | null>(null)
  useEffect(() => {
    if (!accounts || !accountId || checked.current === accountId) return
    checked.current = accountId
    if (!accounts.some((account) => account.id === accountId)) void reload()
  }, [accounts, accountId, reload])

  // While open: Escape closes it and returns to the button; focus moving out of it closes it.
  const container = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const element = container.current
    if (!open || !element) return
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return
      event.preventDefault()
      setOpenAt(null)
      button.current?.focus()
    }
    const onFocusOut = (event: FocusEvent) => {
      if (!element.contains(event.relatedTarget as Node | null)) setOpenAt(null)
    }
    element.addEventListener('keydown', onKeyDown)
    element.addEventListener('focusout', onFocusOut)
    return () => {
      element.removeEventListener('keydown', onKeyDown)
      element.removeEventListener('focusout', onFocusOut)
    }
  }, [open])

  if (!accounts || accounts.length < 2) return null
  const current = accounts.find((account) => account.id === accountId)
  const target = (account: Account) => {
    const kept = sectionFor(section, account)
    return `/app/accounts/${account.id}${kept ? `/${kept}` : ''}`
  }
  return (
    <div className="switcher" ref={container}>
      <button
        ref={button}
        type="button"
        className="switcher-button"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => setOpenAt(open ? null : pathname)}
      >
        <span className="visually-hidden">Switch account{current ? ', now in ' : ''}</span>
        <span className="switcher-name">{current?.name ?? 'Your accounts'}</span>
        <span aria-hidden="true" className="switcher-caret">
          ▾
        </span>
      </button>
      <div id={menuId} className="switcher-menu" hidden={!open}>
        <ul aria-label="Your accounts">
          {[...accounts]
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((account) => (
              <li key={account.id}>
                <Link to={target(account)} aria-current={account.id === accountId ? 'page' : undefined}>
                  {account.name}
                  <span className="muted"> · {account.role}</span>
                </Link>
              </li>
            ))}
        </ul>
        <Link to="/app?new=1" className="switcher-new">
          New account
        </Link>
      </div>
    </div>
  )
}
