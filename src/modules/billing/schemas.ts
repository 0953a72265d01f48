import { z } from 'zod'

export const InvoiceParams = z.object({ id: z.uuid() })
export type InvoiceParams = z.infer<typeof InvoiceParams>

export const PortalSession = z
  .object({
    url: z.string().describe("Send the customer here: Stripe's Customer Portal."),
  })
  .meta({ example: { url: 'https://billing.stripe.com/p/session/test_YWNjdF8xTjhx' } })
export type PortalSession = z.infer<typeof PortalSession>
