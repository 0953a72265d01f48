// Sends deliveries through one circuit breaker per endpoint (cockatiel). An endpoint that keeps
// failing or timing out is not called for a cool-down; its deliveries are rescheduled with the
// usual backoff instead of each waiting out the timeout. After the cool-down one delivery goes
// through as a probe: success closes the breaker, failure opens it again. Breakers live in the
// process (each worker keeps its own), which is enough to stop one process from queuing behind a
// dead endpoint.
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleType,
  IsolatedCircuitError,
} from 'cockatiel'
import type { Config } from '../../config.ts'
import { webhookUrlPolicy } from './address-policy.ts'
import { type Attempt, postWebhook, systemNetwork, type WebhookNetwork } from './transport.ts'

/** What a delivery job gets back: a POST's outcome, or `skipped` when the breaker refused to send. */
export type SendOutcome = Attempt & { skipped?: true }

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface WebhookSender {
  /** POSTs one delivery to an endpoint through its breaker; never throws. */
  send(
    endpoint: { id: string; url: string },
    body: string,
    headers: Record<string, string>,
  ): Promise<SendOutcome>
  /** Every endpoint this process has called, with its breaker's state (for /metrics). */
  breakerStates(): { endpointId: string; state: BreakerState }[]
}

/** Thrown inside the breaker so that it counts a failed POST. */
class FailedAttempt extends Error {
  constructor(readonly attempt: Attempt) {
    super('webhook delivery failed')
  }
}

const stateNames: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
}

export function createWebhookSender(
  config: Pick<
    Config,
    | 'NODE_ENV'
    | 'WEBHOOK_ALLOW_PRIVATE_URLS'
    | 'WEBHOOK_TIMEOUT_MS'
    | 'WEBHOOK_BREAKER_FAILURES'
    | 'WEBHOOK_BREAKER_COOLDOWN_MS'
  >,
  network: WebhookNetwork = systemNetwork,
): WebhookSender {
  const breakers = new Map<string, CircuitBreakerPolicy>()
  const options = {
    policy: webhookUrlPolicy(config),
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    network,
  }
  const breakerFor = (endpointId: string) => {
    let breaker = breakers.get(endpointId)
    if (!breaker) {
      breaker = circuitBreaker(handleType(FailedAttempt), {
        halfOpenAfter: config.WEBHOOK_BREAKER_COOLDOWN_MS,
        breaker: new ConsecutiveBreaker(config.WEBHOOK_BREAKER_FAILURES),
      })
      breakers.set(endpointId, breaker)
    }
    return breaker
  }

  return {
    async send(endpoint, body, headers) {
      try {
        return await breakerFor(endpoint.id).execute(async () => {
          const attempt = await postWebhook(endpoint.url, body, headers, options)
          if (!attempt.ok) throw new FailedAttempt(attempt)
          return attempt
        })
      } catch (error) {
        if (error instanceof FailedAttempt) return error.attempt
        if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
          return {
            ok: false,
            skipped: true,
            status: null,
            error: 'Not sent: the endpoint failed repeatedly and its circuit breaker is open; retried later',
            durationMs: 0,
          }
        }
        throw error
      }
    },
    breakerStates: () =>
      [...breakers].map(([endpointId, breaker]) => ({ endpointId, state: stateNames[breaker.state] })),
  }
}
