import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { IdempotencyHeaders, idempotent, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireMember } from '../accounts/guards.ts'
import { AccountParams } from '../accounts/schemas.ts'
import { idempotencyScopeOf, requireCredential } from '../auth/guards.ts'
import { countDecision, replayStanding } from '../entitlements/engine.ts'
import { cancelBooking, createBooking, listBookings } from './bookings.ts'
import { Booking, BookingParams, CreateBookingBody, ListBookingsQuery } from './schemas.ts'

const security = [{ bearer: [] }]
const tags = ['bookings']

/** A replay of an Idempotency-Key still needs what a fresh request needs (the statement checks it otherwise). */
const replayCheck = replayStanding({ minRole: 'member', scope: 'resources:write' })

export const bookingRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const { db, clock } = deps

    // Hot path: no preHandler query; the statement itself checks membership and access.
    app.post(
      '/v1/accounts/:accountId/bookings',
      {
        schema: {
          tags,
          summary: 'Create a booking',
          description:
            'Any member. Counts on the start day in the account time zone against `bookings_per_day` (403 limit_exceeded when the day is full; 403 subscription_required without access).',
          operationId: 'createBooking',
          security,
          params: AccountParams,
          headers: IdempotencyHeaders,
          body: CreateBookingBody,
          response: { 201: Booking, ...problems },
        },
      },
      async (req, reply) => {
        const credential = await requireCredential(deps, req)
        const now = clock.now()
        return idempotent(
          db,
          req,
          reply,
          idempotencyScopeOf(credential),
          async (executor) => ({
            status: 201,
            body: await countDecision(
              deps.metrics,
              'bookings_per_day',
              createBooking(executor, req.params.accountId, credential, req.body, now),
            ),
          }),
          replayCheck(req.params.accountId, credential, now),
        )
      },
    )

    app.get(
      '/v1/accounts/:accountId/bookings',
      {
        schema: {
          tags,
          summary: 'List bookings',
          description: 'Ordered by start; `date` filters on the account-local day.',
          operationId: 'listBookings',
          security,
          params: AccountParams,
          querystring: ListBookingsQuery,
          response: { 200: page(Booking), ...problems },
        },
        preHandler: requireMember(deps, 'member', { adminMayRead: true, scope: 'accounts:read' }),
      },
      async (req) => listBookings(db, req.params.accountId, req.query),
    )

    app.post(
      '/v1/accounts/:accountId/bookings/:bookingId/cancel',
      {
        schema: {
          tags,
          summary: 'Cancel a booking',
          description: "Any member; frees the unit of the booking's day.",
          operationId: 'cancelBooking',
          security,
          params: BookingParams,
          response: { 200: Booking, ...problems },
        },
      },
      async (req) => {
        const credential = await requireCredential(deps, req)
        return cancelBooking(db, req.params.accountId, credential, req.params.bookingId, clock.now())
      },
    )
  }
