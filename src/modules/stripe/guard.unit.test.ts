// The guard times every Stripe call that goes out, once, by operation and outcome.
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import Stripe from 'stripe'
import { describe, expect, it } from 'vitest'
import { type CallOutcome, createStripeGuard } from './guard.ts'

function guardWithRecorder(budgetMs = 1000, maxCalls = 5) {
  const calls: { operation: string; outcome: CallOutcome; seconds: number }[] = []
  const guard = createStripeGuard(
    {
      STRIPE_INTERACTIVE_BUDGET_MS: budgetMs,
      STRIPE_MAX_CONCURRENT_CALLS: maxCalls,
      STRIPE_BREAKER_FAILURES: 100,
      STRIPE_BREAKER_WINDOW_MS: 30_000,
      STRIPE_BREAKER_COOLDOWN_MS: 30_000,
    },
    pino({ level: 'silent' }),
    { stripeCall: (operation, outcome, seconds) => calls.push({ operation, outcome, seconds }) },
  )
  return { guard, calls }
}

describe('Stripe call timing', () => {
  it('records an answered call as ok and a failed one as error, with their durations', async () => {
    const { guard, calls } = guardWithRecorder()
    await guard.run('customers.create', 'interactive', async () => {
      await sleep(20)
      return 'cus_1'
    })
    const declined = new Stripe.errors.StripeCardError({ message: 'declined', type: 'card_error' })
    await expect(
      guard.run('invoices.pay', 'background', async () => {
        throw declined
      }),
    ).rejects.toBe(declined)
    expect(calls).toEqual([
      { operation: 'customers.create', outcome: 'ok', seconds: expect.any(Number) },
      { operation: 'invoices.pay', outcome: 'error', seconds: expect.any(Number) },
    ])
    expect(calls[0]?.seconds).toBeGreaterThanOrEqual(0.015)
  })

  it('records a call over its budget once, as timeout, even when it answers later', async () => {
    const { guard, calls } = guardWithRecorder(50)
    await expect(
      guard.run('checkout.sessions.create', 'interactive', async () => {
        await sleep(150)
        return 'cs_1'
      }),
    ).rejects.toMatchObject({ code: 'provider_unavailable' })
    await sleep(200)
    expect(calls).toEqual([
      { operation: 'checkout.sessions.create', outcome: 'timeout', seconds: expect.any(Number) },
    ])
  })

  it('does not time a call the bulkhead refused: it never went out', async () => {
    const { guard, calls } = guardWithRecorder(1000, 1)
    const first = guard.run('customers.create', 'interactive', () => sleep(50).then(() => 'cus_1'))
    await expect(guard.run('customers.create', 'interactive', async () => 'cus_2')).rejects.toMatchObject({
      code: 'provider_unavailable',
    })
    await first
    expect(calls.map((call) => call.outcome)).toEqual(['ok'])
  })
})
