import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../config.ts'
import { interactiveAttempts } from './client.ts'

const attemptsFor = (env: Record<string, string>) =>
  interactiveAttempts(
    loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_WEBHOOK_SECRET: 'whsec_x', ...env }),
  )

describe('interactive Stripe attempts', () => {
  it('fit the default budget with the default retries: 8 s = 3 attempts + the SDK sleeps (≤ 1.5 s)', () => {
    const { retries, timeoutMs } = attemptsFor({})
    expect(retries).toBe(2)
    expect(3 * timeoutMs + 500 + 1000).toBeLessThanOrEqual(8000)
    expect(timeoutMs).toBe(2166)
  })

  it('drop retries a short budget cannot hold, rather than let attempts outlive it', () => {
    expect(attemptsFor({ STRIPE_INTERACTIVE_BUDGET_MS: '1500' })).toEqual({ retries: 0, timeoutMs: 1500 })
    expect(attemptsFor({ STRIPE_INTERACTIVE_BUDGET_MS: '3000' })).toEqual({ retries: 1, timeoutMs: 1250 })
  })

  it('never give an attempt more than STRIPE_TIMEOUT_MS', () => {
    expect(attemptsFor({ STRIPE_INTERACTIVE_BUDGET_MS: '60000', STRIPE_TIMEOUT_MS: '2000' })).toEqual({
      retries: 2,
      timeoutMs: 2000,
    })
  })
})
