// Said while a refresh of the session is waiting to be retried (rate limited, or the service not
// answering): the person stays signed in, and sees when the next attempt is.
import { useEffect, useState } from 'react'
import type { SessionState } from '../lib/session.ts'

export function SessionRetry({ retry }: { retry: NonNullable<SessionState['retry']> }) {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [])
  const seconds = Math.max(0, Math.ceil((retry.at - now) / 1000))
  const why = retry.reason === 'rate-limited' ? 'Too many requests' : 'The service is not answering'
  return (
    <p className="notice notice-info" role="status">
      {why}: {seconds > 0 ? `retrying in ${seconds} s.` : 'retrying now.'}
    </p>
  )
}
