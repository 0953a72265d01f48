// What tests use to steer the fake beyond its API: its clock, injected failures, hangs and outages,
// declined cards, the events to deliver and their webhook signatures. The outside events that
// change billing state (Checkout completed, a renewal, …) are transitions of state.ts.
import Stripe from 'stripe'
import type { StripeEvent } from './objects.ts'
import type { StripeState } from './state.ts'
import type { Faults } from './wire.ts'

export type SignedDelivery = { payload: string; headers: Record<string, string> }

/** The fake's clock in Unix seconds, from the test's clock (real time by default). */
export function fakeClock(clock: () => Date = () => new Date()): () => number {
  return () => Math.floor(clock().getTime() / 1000)
}

/** Planned failures and outages, consulted by the server on each request. */
export function createFaults() {
  const failures: { count: number; status: number; hangMs?: number; match?: RegExp }[] = []
  const hanging = new Set<() => void>()
  let outage: { hangMs: number } | null = null

  const faults: Faults = {
    outage: () => outage,
    take(route) {
      const index = failures.findIndex((failure) => !failure.match || failure.match.test(route))
      const failure = failures[index]
      if (!failure) return undefined
      failure.count -= 1
      if (failure.count <= 0) failures.splice(index, 1)
      return failure
    },
    hang(ms) {
      return new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer)
          hanging.delete(release)
          resolve()
        }
        const timer = setTimeout(release, ms)
        hanging.add(release)
      })
    },
  }

  /** Answers every hanging request now. */
  const releaseAll = () => {
    for (const release of [...hanging]) release()
  }

  return {
    faults,
    releaseAll,
    failNext(
      count: number,
      { status = 500, hangMs, match }: { status?: number; hangMs?: number; match?: RegExp } = {},
    ) {
      failures.push({ count, status, hangMs, match })
    },
    goDown({ hangMs = 3_600_000 }: { hangMs?: number } = {}) {
      outage = { hangMs }
    },
    recover() {
      outage = null
      releaseAll()
    },
  }
}

/** The events not returned by an earlier call, in the order they happened. */
export function eventTap(events: StripeEvent[]) {
  let taken = 0
  return () => {
    const next = events.slice(taken)
    taken = events.length
    return next
  }
}

/** The customer's payments fail from now on (or no longer). */
export function paymentFailures(state: StripeState) {
  return (customerId: string, fails: boolean) => {
    if (fails) state.failingCustomers.add(customerId)
    else state.failingCustomers.delete(customerId)
  }
}

/** A webhook delivery of `event` signed like Stripe signs it. */
export function signDelivery(event: StripeEvent, secret: string, timestamp: number): SignedDelivery {
  const payload = JSON.stringify(event, null, 2)
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })
  return { payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } }
}
