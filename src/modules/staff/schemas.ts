import { z } from 'zod'
import { AccountParams } from '../accounts/schemas.ts'

export const StaffParams = AccountParams.extend({ staffId: z.uuid() })

export const CreateStaffBody = z.object({
  name: z.string().trim().min(1).max(120),
  email: z.email().max(254).optional(),
  is_active: z.boolean().default(true),
})
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
  .meta({ id: 'Staff' })
export type Staff = z.infer<typeof Staff>
