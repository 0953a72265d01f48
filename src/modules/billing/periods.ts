// Billing-period arithmetic, in UTC. Months are calendar months with the day clamped to the
// month's end (Jan 31 + 1 month = Feb 28/29), as Stripe does.

import type { PlanInterval } from '../../core/vocabulary.ts'

export function addMonths(date: Date, months: number): Date {
  const year = date.getUTCFullYear()
  const month = date.getUTCMonth() + months
  const targetYear = year + Math.floor(month / 12)
  const targetMonth = ((month % 12) + 12) % 12
  const lastDay = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate()
  const day = Math.min(date.getUTCDate(), lastDay)
  return new Date(
    Date.UTC(
      targetYear,
      targetMonth,
      day,
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
      date.getUTCMilliseconds(),
    ),
  )
}

/** The end of a period of `interval` starting at `start`. */
export const periodEnd = (start: Date, interval: PlanInterval): Date =>
  addMonths(start, interval === 'year' ? 12 : 1)

/** The share of the period [start, end) still ahead at `now`, between 0 and 1. */
export function remainingFraction(start: Date, end: Date, now: Date): number {
  const total = end.getTime() - start.getTime()
  if (total <= 0) return 0
  return Math.min(1, Math.max(0, (end.getTime() - now.getTime()) / total))
}

/**
 * What an immediate upgrade costs for the rest of the period: the new price's share of the time
 * left minus the old price's share (never negative: downgrades are not refunded).
 */
export function prorationCents(oldPrice: number, newPrice: number, fraction: number): number {
  return Math.max(0, Math.round((newPrice - oldPrice) * fraction))
}
