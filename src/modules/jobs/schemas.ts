import { z } from 'zod'
import { PaginationQuery } from '../../core/http.ts'

const jobStates = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const

export const Job = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.enum(jobStates),
    data: z.unknown(),
    retry_count: z.number().int(),
    retry_limit: z.number().int(),
    output: z.unknown().describe('The last error of a failed or retrying job.'),
    created_on: z.iso.datetime(),
    started_on: z.iso.datetime().nullable(),
    completed_on: z.iso.datetime().nullable(),
    start_after: z.iso.datetime(),
  })
  .meta({
    id: 'Job',
    example: {
      id: '0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01',
      name: 'mail.send',
      state: 'failed',
      data: { to: 'ann@example.com' },
      retry_count: 5,
      retry_limit: 5,
      output: { message: 'SMTP server did not answer within 10 s' },
      created_on: '2026-11-01T09:00:00.000Z',
      started_on: '2026-11-01T09:31:00.000Z',
      completed_on: '2026-11-01T09:31:10.000Z',
      start_after: '2026-11-01T09:31:00.000Z',
    },
  })
export type Job = z.infer<typeof Job>

export const ListJobsQuery = PaginationQuery.extend({
  state: z.enum(jobStates).optional(),
  name: z.string().max(100).optional(),
})
export type ListJobsQuery = z.infer<typeof ListJobsQuery>
