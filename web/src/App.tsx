// The routes: the sign-in pages at the paths the emails link to, the portal under /app, the
// site admins' dashboard under /admin.
import { type ReactNode, useEffect, useRef } from 'react'
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation, useSearchParams } from 'react-router'
import { AdminAccountDetail } from './admin/AccountDetail.tsx'
import { AdminAccounts } from './admin/Accounts.tsx'
import { AdminLayout } from './admin/AdminLayout.tsx'
import { AdminAuditLog } from './admin/AuditLog.tsx'
import { AdminJobs } from './admin/Jobs.tsx'
import { AdminKeys } from './admin/Keys.tsx'
import { AdminMail } from './admin/Mail.tsx'
import { useMe } from './admin/me.ts'
import { AdminOverview } from './admin/Overview.tsx'
import { AdminPlans } from './admin/Plans.tsx'
import { AdminStripeEvents } from './admin/StripeEvents.tsx'
import { AdminSubscriptions } from './admin/Subscriptions.tsx'
import { AdminWebhooks } from './admin/Webhooks.tsx'
import { nextPath, SignIn } from './auth/SignIn.tsx'
import { SignUp } from './auth/SignUp.tsx'
import { AcceptInvitation, ForgotPassword, ResetPassword, VerifyEmail } from './auth/TokenPages.tsx'
import { restore, signOut, useSession } from './lib/session.ts'
import { AccountLayout } from './portal/AccountLayout.tsx'
import { AccountSwitcher } from './portal/AccountSwitcher.tsx'
import { Accounts } from './portal/Accounts.tsx'
import { BookingsPage } from './portal/Bookings.tsx'
import { KeysPage } from './portal/Keys.tsx'
import { Overview } from './portal/Overview.tsx'
import { PlanPage } from './portal/Plan.tsx'
import { StaffPage } from './portal/Staff.tsx'
import { TeamPage } from './portal/Team.tsx'
import { SessionRetry } from './ui/SessionRetry.tsx'

/** Focuses the page's main heading (its first h1), else its `main`, made focusable for it. */
function focusMain(): void {
  const main = document.querySelector('main')
  const target = main?.querySelector('h1') ?? main
  if (!target) return
  if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1')
  target.focus()
}

/**
 * After a navigation inside the app (not on the first load), the focus goes to the new page's main
 * heading, as a page load would put a screen reader there, instead of staying on a link that may be
 * gone. Rendered before the routes, so a page that places the focus itself (a form it opens) wins.
 */
function FocusOnNavigation() {
  const { pathname } = useLocation()
  const first = useRef(true)
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each change of the path
  useEffect(() => {
    if (first.current) {
      first.current = false
      return
    }
    focusMain()
  }, [pathname])
  return null
}

/** The first thing a keyboard reaches in the app: straight to the page's content. */
function SkipLink() {
  return (
    <button type="button" className="skip-link" onClick={focusMain}>
      Skip to content
    </button>
  )
}

/** Pages for signed-in people: anyone else is sent to sign in, and back here after. */
function SignedIn({ children }: { children: ReactNode }) {
  const session = useSession()
  const location = useLocation()
  const me = useMe()
  if (session.status === 'unknown')
    return (
      <div className="page" aria-live="polite">
        {session.retry ? <SessionRetry retry={session.retry} /> : <p>Loading…</p>}
      </div>
    )
  if (session.status === 'signed-out') {
    return (
      <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />
    )
  }
  return (
    <div className="shell">
      <SkipLink />
      <header className="topbar">
        <Link to="/app" className="brand">
          plangate
        </Link>
        <AccountSwitcher />
        <nav aria-label="Main">
          <Link to="/app">Accounts</Link>
          {me.user?.is_admin && <Link to="/admin">Admin</Link>}
          <button type="button" className="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </nav>
      </header>
      {session.retry && <SessionRetry retry={session.retry} />}
      {children}
    </div>
  )
}

/** The sign-in and sign-up pages: someone already signed in goes on to `next` (or the portal). */
function SignedOut({ children }: { children: ReactNode }) {
  const session = useSession()
  const [params] = useSearchParams()
  if (session.status === 'signed-in') return <Navigate to={nextPath(params)} replace />
  return children
}

function NotFound() {
  return (
    <main className="page">
      <h1>Page not found</h1>
      <p>
        <Link to="/app">Go to your accounts</Link>
      </p>
    </main>
  )
}

function AdminNotFound() {
  return (
    <>
      <h2>Page not found</h2>
      <p>
        <Link to="/admin">Go to the overview</Link>
      </p>
    </>
  )
}

export function App() {
  useEffect(() => {
    void restore()
  }, [])
  return (
    <BrowserRouter>
      <FocusOnNavigation />
      <Routes>
        <Route path="/" element={<Navigate to="/app" replace />} />
        <Route
          path="/sign-in"
          element={
            <SignedOut>
              <SignIn />
            </SignedOut>
          }
        />
        <Route
          path="/sign-up"
          element={
            <SignedOut>
              <SignUp />
            </SignedOut>
          }
        />
        <Route path="/verify-email" element={<VerifyEmail />} />
        <Route path="/forgot-password" element={<ForgotPassword />} />
        <Route path="/reset-password" element={<ResetPassword />} />
        <Route path="/accept-invitation" element={<AcceptInvitation />} />
        <Route
          path="/app"
          element={
            <SignedIn>
              <Accounts />
            </SignedIn>
          }
        />
        <Route
          path="/app/accounts/:accountId"
          element={
            <SignedIn>
              <AccountLayout />
            </SignedIn>
          }
        >
          <Route index element={<Overview />} />
          <Route path="plan" element={<PlanPage />} />
          <Route path="staff" element={<StaffPage />} />
          <Route path="bookings" element={<BookingsPage />} />
          <Route path="team" element={<TeamPage />} />
          <Route path="keys" element={<KeysPage />} />
        </Route>
        <Route
          path="/admin"
          element={
            <SignedIn>
              <AdminLayout />
            </SignedIn>
          }
        >
          <Route index element={<AdminOverview />} />
          <Route path="accounts" element={<AdminAccounts />} />
          <Route path="accounts/:accountId" element={<AdminAccountDetail />} />
          <Route path="subscriptions" element={<AdminSubscriptions />} />
          <Route path="plans" element={<AdminPlans />} />
          <Route path="stripe-events" element={<AdminStripeEvents />} />
          <Route path="webhooks" element={<AdminWebhooks />} />
          <Route path="jobs" element={<AdminJobs />} />
          <Route path="mail" element={<AdminMail />} />
          <Route path="audit-log" element={<AdminAuditLog />} />
          <Route path="keys" element={<AdminKeys />} />
          <Route path="*" element={<AdminNotFound />} />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Routes>
    </BrowserRouter>
  )
}
