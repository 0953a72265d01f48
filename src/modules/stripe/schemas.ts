import { z } from 'zod'

/** What every event must have before it is stored; a signed body without it is refused (400). */
export const Envelope = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  created: z.number().int().nonnegative(),
  data: z.object({ object: z.looseObject({ id: z.string().max(255).nullish() }) }),
})
export type Envelope = z.infer<typeof Envelope>

/** The signature Stripe sends with every delivery; checked against the raw body by the handler. */
export const StripeSignatureHeaders = z.object({ 'stripe-signature': z.string().max(4000).optional() })
export type StripeSignatureHeaders = z.infer<typeof StripeSignatureHeaders>

export const Received = z
  .object({
    received: z.literal(true),
    duplicate: z.boolean().describe('True when this event id was already processed: nothing was done again.'),
  })
  .meta({ example: { received: true, duplicate: false } })
export type Received = z.infer<typeof Received>
