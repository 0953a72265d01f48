import { z } from 'zod'

import { PaginationQuery } from '../../core/http.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { IsoDate } from '../entitlements/schemas.ts'

/** A booking is confirmed until it is canceled. */
export const bookingStatuses = ['confirmed', 'canceled'] as const
export type BookingStatus = (typeof bookingStatuses)[number]

export const BookingParams = AccountParams.extend({ bookingId: z.uuid() })

export const CreateBookingBody = z
  .object({
    staff_id: z.uuid().nullable().optional().describe("One of the account's staff members."),
    customer_name: z.string().trim().min(1).max(200),
    starts_at: z.iso
      .datetime({ offset: true })
      .refine((value) => {
        const year = new Date(value).getUTCFullYear()
        return year >= 2000 && year <= 2200
      }, 'a date between 2000 and 2200')
      .describe('ISO 8601 with offset; the booking counts on this day in the account time zone.'),
    duration_minutes: z.number().int().min(1).max(1440).default(60),
  })
  .meta({
    example: {
      staff_id: '0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23',
      customer_name: 'Zoé',
      starts_at: '2030-03-10T10:00:00+01:00',
      duration_minutes: 45,
    },
  })
export type CreateBookingBody = z.infer<typeof CreateBookingBody>

export const ListBookingsQuery = PaginationQuery.extend({
  date: IsoDate.optional().describe('Only bookings on this account-local day.'),
  status: z.enum(bookingStatuses).optional(),
})
export type ListBookingsQuery = z.infer<typeof ListBookingsQuery>

export const Booking = z
  .object({
    id: z.uuid(),
    account_id: z.uuid(),
    staff_id: z.uuid().nullable(),
    customer_name: z.string(),
    starts_at: z.iso.datetime(),
    duration_minutes: z.number().int(),
    status: z.enum(bookingStatuses),
    local_date: z.string().describe('The account-local day the booking counts on.'),
    created_at: z.iso.datetime(),
    canceled_at: z.iso.datetime().nullable(),
  })
  .meta({
    id: 'Booking',
    example: {
      id: '0192f5c5-1e5c-7a7f-b16c-8d9e0f1a2b34',
      account_id: '0192f5c4-8b2f-7d4c-8e3f-5a6b7c8d9e01',
      staff_id: '0192f5c5-0d4b-7f6e-a05b-7c8d9e0f1a23',
      customer_name: 'Zoé',
      starts_at: '2030-03-10T09:00:00.000Z',
      duration_minutes: 45,
      status: 'confirmed',
      local_date: '2030-03-10',
      created_at: '2026-11-01T09:00:00.000Z',
      canceled_at: null,
    },
  })
export type Booking = z.infer<typeof Booking>
