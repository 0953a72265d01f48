// The dashboard's frame: for site admins, a heading and the section navigation, then the page;
// for anyone else, a page that says the dashboard is for site admins only.
import { Link, NavLink, Outlet } from 'react-router'
import { Notice } from '../ui/kit.tsx'
import { useMe } from './me.ts'

const sections = [
  { to: '', label: 'Overview', end: true },
  { to: 'accounts', label: 'Accounts' },
  { to: 'subscriptions', label: 'Subscriptions' },
  { to: 'plans', label: 'Plans' },
  { to: 'stripe-events', label: 'Stripe events' },
  { to: 'webhooks', label: 'Webhook endpoints' },
  { to: 'jobs', label: 'Jobs' },
  { to: 'mail', label: 'Mail' },
  { to: 'audit-log', label: 'Audit log' },
  { to: 'keys', label: 'Site API keys' },
]

export function AdminLayout() {
  const { user, error } = useMe()
  if (error)
    return (
      <main className="page">
        <Notice kind="error">{error}</Notice>
      </main>
    )
  if (!user)
    return (
      <main className="page">
        <p aria-live="polite">Loading…</p>
      </main>
    )
  if (!user.is_admin)
    return (
      <main className="page">
        <h1>Site admins only</h1>
        <p>
          The admin dashboard is for the site's administrators, and {user.email} is not one. Ask a site admin
          if you need something from it.
        </p>
        <p>
          <Link to="/app">Go to your accounts</Link>
        </p>
      </main>
    )
  return (
    <div className="account admin">
      <div className="account-head">
        <h1>Admin</h1>
        <nav aria-label="Admin" className="tabs">
          {sections.map((section) => (
            <NavLink key={section.to} to={section.to} end={section.end}>
              {section.label}
            </NavLink>
          ))}
        </nav>
      </div>
      <main className="page">
        <Outlet />
      </main>
    </div>
  )
}
