import { z } from 'zod'
import { AccountParams } from '../accounts/schemas.ts'

export const StaffParams = AccountParams.extend({ staffId: z.uuid() })

export const CreateStaffBody = z
  .object({
    name: z.string().trim().min(1).max(120),
    email: z.email().max(254).optional(),
    is_active: z.boolean().default(true),
  })
  .meta({ example: { name: 'Ann', email: 'ann@chic-chic.example' } })
export type CreateStaffBody = z.infer<typeof CreateStaffBody>

export const Staff = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    name: z.string(),
    email: z.string().nullable(),
    is_active: z.boolean(),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'Staff',
    example: {
      id: '0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23',
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      name: 'Ann',
      email: 'ann@chic-chic.example',
      is_active: true,
      created_at: '2026-11-01T09:00:00.000Z',
    },
  })
export type Staff = z.infer<typeof Staff>
