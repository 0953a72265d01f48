// The `manual` provider: payments happen outside plangate. Subscriptions are active (or trialing)
// at once, every charge is recorded as an open invoice that an operator marks paid, and renewals
// are made by the renewal job. Nothing here talks to the network.
import { AppError } from '../../core/errors.ts'
import { addDays } from '../../core/time.ts'
import type { PlanRow } from '../plans/plans.ts'
import { periodEnd, prorationCents, remainingFraction } from './periods.ts'
import type { BillingProvider, ChangeOutcome } from './provider.ts'

const describePlan = (plan: PlanRow) => `${plan.name} (${plan.interval}ly)`

export const manualProvider: BillingProvider = {
  name: 'manual',

  assertAvailable() {},

  initialState(plan, trialDays, now) {
    if (trialDays > 0) {
      const trialEnd = addDays(now, trialDays)
      return { status: 'trialing', currentPeriodStart: now, currentPeriodEnd: trialEnd, trialEnd }
    }
    return {
      status: 'active',
      currentPeriodStart: now,
      currentPeriodEnd: periodEnd(now, plan.interval),
      trialEnd: null,
    }
  },

  async start(_tx, { row, plan }) {
    if (row.status === 'trialing') return {}
    return {
      charge: {
        amountCents: row.priceCents,
        currency: row.currency,
        description: describePlan(plan),
        periodStart: row.currentPeriodStart,
        periodEnd: row.currentPeriodEnd,
      },
    }
  },

  async abandon() {},

  async changePlan(_tx, { row, from, to, when, now }): Promise<ChangeOutcome> {
    if (when === 'period_end') return { state: { pendingPlanId: to.id } }
    // A trial changes plan for free and keeps its end.
    if (row.status === 'trialing') return { state: { planId: to.id, pendingPlanId: null } }
    // The credit is for what the subscriber pays, which may be less than the plan's price today.
    const sameInterval = to.interval === row.interval
    const fraction = remainingFraction(row.currentPeriodStart, row.currentPeriodEnd, now)
    // A different interval starts a new period now, with the unused part of the old one credited.
    const amount = sameInterval
      ? prorationCents(row.priceCents, to.priceCents, fraction)
      : Math.max(0, to.priceCents - Math.round(row.priceCents * fraction))
    const currentPeriodStart = sameInterval ? row.currentPeriodStart : now
    const currentPeriodEnd = sameInterval ? row.currentPeriodEnd : periodEnd(now, to.interval)
    return {
      state: { planId: to.id, pendingPlanId: null, currentPeriodStart, currentPeriodEnd },
      ...(amount > 0 && {
        charge: {
          amountCents: amount,
          currency: to.currency,
          description: `Change from ${from.name} to ${to.name}`,
          periodStart: now,
          periodEnd: currentPeriodEnd,
        },
      }),
    }
  },

  async unscheduleChange() {
    return { pendingPlanId: null }
  },

  async cancel(_tx, row, atPeriodEnd, now) {
    if (atPeriodEnd && row.status === 'past_due') {
      // Still owing: it stays past_due (access until the grace ends), set to end, as Stripe does.
      return { cancelAtPeriodEnd: true, canceledAt: now, pendingPlanId: null }
    }
    return atPeriodEnd
      ? { status: 'canceled', cancelAtPeriodEnd: true, canceledAt: now, pendingPlanId: null }
      : {
          status: 'canceled',
          cancelAtPeriodEnd: false,
          canceledAt: row.canceledAt ?? now,
          endedAt: now,
          currentPeriodEnd: now,
          pendingPlanId: null,
        }
  },

  async resume(_tx, row, now) {
    return {
      status:
        row.status === 'past_due' ? 'past_due' : row.trialEnd && row.trialEnd > now ? 'trialing' : 'active',
      cancelAtPeriodEnd: false,
      canceledAt: null,
    }
  },

  async currentState() {
    // The row is the manual subscription's whole state: there is nothing else to read.
    return {}
  },

  async portalUrl() {
    throw new AppError(
      'conflict',
      'The billing portal needs the Stripe provider; with manual payments, invoices are listed at /invoices',
    )
  },

  async syncPlan() {
    return {}
  },
}
