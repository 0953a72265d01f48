// What a refused create says to a person: the limit in words and the way out.
import { PlangateError } from '@plangate/sdk'
import type { ReactNode } from 'react'
import { Link } from 'react-router'
import { featureName } from '../lib/format.ts'
import { messageOf } from '../lib/session.ts'

const words: Record<string, (limit: number) => string> = {
  staff: (limit) =>
    `Your plan allows ${limit} staff ${limit === 1 ? 'member' : 'members'}, and you have that many.`,
  bookings_per_day: (limit) =>
    `Your plan allows ${limit} ${limit === 1 ? 'booking' : 'bookings'} a day, and that day is full.`,
}

/** A refusal explained; a limit refusal links to the plan page. */
export function refusal(error: unknown): ReactNode {
  if (error instanceof PlangateError && error.code === 'limit_exceeded') {
    const problem = error.problem as { feature?: string; limit?: number }
    const feature = problem.feature ?? ''
    const limit = problem.limit ?? 0
    return (
      <>
        {(words[feature] ?? ((n: number) => `Your plan allows ${n} ${featureName(feature)}.`))(limit)}{' '}
        <Link to="../plan">Upgrade your plan</Link> to add more.
      </>
    )
  }
  if (error instanceof PlangateError && error.code === 'subscription_required') {
    return (
      <>
        This account has no plan that grants access. <Link to="../plan">Choose a plan</Link>.
      </>
    )
  }
  return messageOf(error)
}
