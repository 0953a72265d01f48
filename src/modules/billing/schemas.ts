import { z } from 'zod'
import { invoiceStatuses } from './tables.ts'

export const InvoiceParams = z.object({ id: z.uuid() })
export type InvoiceParams = z.infer<typeof InvoiceParams>

export const PortalSession = z
  .object({
    url: z.string().describe("Send the customer here: Stripe's Customer Portal."),
  })
  .meta({ example: { url: 'https://billing.stripe.com/p/session/test_YWNjdF8xTjhx' } })
export type PortalSession = z.infer<typeof PortalSession>

export const Invoice = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    subscription_id: z.uuid().nullable(),
    provider: z.string(),
    provider_invoice_id: z.string(),
    amount_cents: z.number().int(),
    currency: z.string(),
    status: z.enum(invoiceStatuses),
    description: z.string(),
    period_start: z.iso.datetime().nullable(),
    period_end: z.iso.datetime().nullable(),
    hosted_url: z.string().nullable(),
    paid_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'Invoice',
    example: {
      id: '0192f5c5-2f6d-7b80-827d-9e0f1a2b3c45',
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      subscription_id: '0192f5c4-9c3a-7e5d-9f4a-6b7c8d9e0f12',
      provider: 'manual',
      provider_invoice_id: 'manual_0192f5c5',
      amount_cents: 1900,
      currency: 'usd',
      status: 'paid',
      description: 'Basic, Nov 1 – Dec 1, 2026',
      period_start: '2026-11-01T09:00:00.000Z',
      period_end: '2026-12-01T09:00:00.000Z',
      hosted_url: null,
      paid_at: '2026-11-01T09:05:00.000Z',
      created_at: '2026-11-01T09:00:00.000Z',
    },
  })
export type Invoice = z.infer<typeof Invoice>
