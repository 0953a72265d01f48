import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { AppError } from '../../core/errors.ts'
import { problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import type { StripeProvider } from './provider.ts'
import { receiveStripeEvent } from './receive.ts'
import { Envelope, Received, StripeSignatureHeaders } from './schemas.ts'

/**
 * `POST /v1/billing/webhooks/stripe`. Without Stripe configured the route still exists and says so
 * (404 `not_found`), so a misdirected Stripe endpoint is diagnosed from its delivery log.
 */
export const stripeEventRoutes =
  (deps: Deps, stripe: StripeProvider | null): FastifyPluginAsyncZod =>
  async (app) => {
    // The signature covers the exact bytes Stripe sent: this route keeps the raw body.
    app.removeAllContentTypeParsers()
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

    app.post(
      '/v1/billing/webhooks/stripe',
      {
        config: { rateLimit: false },
        schema: {
          tags: ['billing'],
          summary: 'Receive a Stripe webhook',
          description:
            "Stripe's endpoint (see the README for the events to enable). The `Stripe-Signature` header is checked on the raw body with STRIPE_WEBHOOK_SECRET; a missing, wrong or stale signature is answered 400 and nothing is written. Each event id is processed once: a redelivery (even many at once) answers 200 and changes nothing. A failure answers non-2xx so Stripe retries; a job also retries stored events that are still unprocessed. Not rate limited. 404 `not_found` when this server has no Stripe configuration.",
          operationId: 'receiveStripeWebhook',
          headers: StripeSignatureHeaders,
          response: {
            200: Received,
            400: problems[400],
            404: problems[404],
            409: problems[409],
            503: problems[503],
          },
        },
      },
      async (req) => {
        if (!stripe) {
          throw new AppError(
            'not_found',
            'Stripe is not configured on this server (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are unset): it receives no Stripe webhooks',
          )
        }
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
        let event: ReturnType<StripeProvider['verifyEvent']>
        try {
          event = stripe.verifyEvent(raw, req.headers['stripe-signature'], deps.clock.now())
        } catch {
          throw new AppError('validation_failed', 'The Stripe-Signature header does not match the body', {
            errors: [{ location: 'header.stripe-signature', message: 'missing, invalid or too old' }],
          })
        }
        const envelope = Envelope.safeParse(event)
        if (!envelope.success) {
          throw new AppError(
            'validation_failed',
            'The event lacks an id, type, created time or data object',
            {
              errors: envelope.error.issues.map((issue) => ({
                location: `body.${issue.path.join('.')}`,
                message: issue.message,
              })),
            },
          )
        }
        const { duplicate } = await receiveStripeEvent({ ...deps, stripe }, event)
        return { received: true as const, duplicate }
      },
    )
  }
