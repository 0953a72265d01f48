import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'
import { eventTypes } from './catalogue.ts'

/** What an endpoint may subscribe to: an event type, `*` (everything) or a family wildcard. */
export const webhookEventFilters = [...eventTypes, '*', 'subscription.*', 'invoice.*'] as const

export const EndpointParams = z.object({ id: z.uuid() })

const endpointExample = {
  id: '0192f5c5-3a7e-7c91-938e-0f1a2b3c4d56',
  url: 'https://hooks.example.com/plangate',
  events: ['subscription.*', 'invoice.paid'],
  description: 'Provisioning service',
  is_active: true,
  created_at: '2026-11-01T09:00:00.000Z',
}

export const CreateEndpointBody = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'an http or https URL' })
      .max(2000)
      .describe('Where events are POSTed; redirects are not followed.'),
    events: z
      .array(z.enum(webhookEventFilters))
      .min(1)
      .max(webhookEventFilters.length)
      .default(['*'])
      .transform((events) => [...new Set(events)])
      .describe('Event types to receive; `*` for all, `subscription.*` or `invoice.*` for a family.'),
    description: z.string().trim().max(500).default(''),
  })
  .meta({
    example: {
      url: 'https://hooks.example.com/plangate',
      events: ['subscription.*', 'invoice.paid'],
      description: 'Provisioning service',
    },
  })
export type CreateEndpointBody = z.infer<typeof CreateEndpointBody>

export const ListEndpointsQuery = PaginationQuery.extend({
  include_inactive: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true')
    .describe('Also list deleted endpoints (their delivery logs stay readable).'),
})
export type ListEndpointsQuery = z.infer<typeof ListEndpointsQuery>

export const WebhookEndpoint = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    description: z.string(),
    is_active: z.boolean().describe('False once deleted: nothing more is delivered to it.'),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'WebhookEndpoint', example: endpointExample })
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>

export const CreatedWebhookEndpoint = WebhookEndpoint.extend({
  secret: z
    .string()
    .describe('Signs every delivery (`plangate-signature`). Shown in this response only: store it now.'),
}).meta({
  id: 'CreatedWebhookEndpoint',
  example: { ...endpointExample, secret: 'whsec_pg_4f9a2c7e1b8d3f6a0c5e9b2d7f1a4c8e' },
})

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const

export const DeliveryParams = EndpointParams.extend({
  deliveryId: z.uuid().describe("The delivery's id, as the endpoint's delivery log lists it."),
})

export const ListDeliveriesQuery = PaginationQuery.extend({
  status: z.enum(deliveryStatuses).optional(),
})
export type ListDeliveriesQuery = z.infer<typeof ListDeliveriesQuery>

export const WebhookDelivery = z
  .object({
    id: z.uuid(),
    event_id: z.uuid(),
    event_type: z.string(),
    status: z
      .enum(deliveryStatuses)
      .describe(
        '`pending` (being tried or awaiting a retry), `delivered` (a 2xx) or `failed` (retries used up).',
      ),
    attempts: z
      .number()
      .int()
      .describe('Runs so far, including those skipped while the endpoint’s circuit breaker was open.'),
    last_status_code: z
      .number()
      .int()
      .nullable()
      .describe('HTTP status of the last attempt; null if none was received.'),
    last_error: z
      .string()
      .nullable()
      .describe(
        'Why the last attempt failed, in a few fixed words (`HTTP 500 Internal Server Error`, `No response within 10 s`, `Not sent: …`); response bodies are never kept. Null after a success.',
      ),
    last_duration_ms: z
      .number()
      .int()
      .nullable()
      .describe(
        'How long the last attempt took until its status line, in milliseconds; null if nothing was sent.',
      ),
    delivered_at: z.iso.datetime().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .meta({
    id: 'WebhookDelivery',
    example: {
      id: '0192f5c5-4b8f-7da2-a49f-1a2b3c4d5e67',
      event_id: '0192f5c5-5c90-7eb3-b5a0-2b3c4d5e6f78',
      event_type: 'subscription.renewed',
      status: 'delivered',
      attempts: 2,
      last_status_code: 200,
      last_error: null,
      last_duration_ms: 184,
      delivered_at: '2026-11-01T09:00:31.000Z',
      created_at: '2026-11-01T09:00:00.000Z',
      updated_at: '2026-11-01T09:00:31.000Z',
    },
  })
export type WebhookDelivery = z.infer<typeof WebhookDelivery>
