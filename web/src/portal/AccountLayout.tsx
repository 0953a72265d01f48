// One account's pages: its name and a navigation, then the page (Outlet) with the account in its
// context. The account is read once here; pages that change it call `reload`.
import { type components, unwrap } from '@plangate/sdk'
import { NavLink, Outlet, useOutletContext, useParams } from 'react-router'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Notice } from '../ui/kit.tsx'

export type Account = components['schemas']['Account']

export interface AccountContext {
  account: Account
  reload: () => Promise<void>
  /** Owners and admins manage; members read and book. */
  canManage: boolean
}

export const useAccount = () => useOutletContext<AccountContext>()

const sections = [
  { to: '', label: 'Overview', end: true },
  { to: 'plan', label: 'Plan & billing' },
  { to: 'staff', label: 'Staff' },
  { to: 'bookings', label: 'Bookings' },
  { to: 'team', label: 'Team' },
  { to: 'keys', label: 'API keys', manage: true },
]

/** Owners and admins manage the account. */
const manages = (account: Pick<Account, 'role'>) => account.role === 'owner' || account.role === 'admin'

/**
 * The section of another account to show instead of `section` (a path segment, '' for the
 * overview): the same one, unless it is one the person may not open there.
 */
export function sectionFor(section: string, account: Pick<Account, 'role'>): string {
  const found = sections.find((candidate) => candidate.to === section)
  if (!found) return ''
  return found.manage && !manages(account) ? '' : found.to
}

export function AccountLayout() {
  const { accountId = '' } = useParams()
  const {
    data: account,
    error,
    reload,
  } = useLoad(
    async () => unwrap(await api.GET('/v1/accounts/{accountId}', { params: { path: { accountId } } })),
    [accountId],
  )
  if (error)
    return (
      <main className="page">
        <Notice kind="error">{error}</Notice>
      </main>
    )
  if (!account)
    return (
      <main className="page">
        <p aria-live="polite">Loading…</p>
      </main>
    )
  const canManage = manages(account)
  return (
    <div className="account">
      <div className="account-head">
        <h1>{account.name}</h1>
        <p className="muted">
          {account.role
            ? `You are ${account.role === 'member' ? 'a' : 'an'} ${account.role}`
            : 'Read as a site admin'}{' '}
          · days start at midnight {account.timezone}
        </p>
        <nav aria-label="Account" className="tabs">
          {sections
            .filter((section) => !section.manage || canManage)
            .map((section) => (
              <NavLink key={section.to} to={section.to} end={section.end}>
                {section.label}
              </NavLink>
            ))}
        </nav>
      </div>
      <main className="page">
        <Outlet context={{ account, reload, canManage } satisfies AccountContext} />
      </main>
    </div>
  )
}
