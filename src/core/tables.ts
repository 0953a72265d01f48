import { sql } from 'drizzle-orm'
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'

export type IdempotencyProgress = 'started' | 'provider_called' | 'done'

/**
 * Stored responses of creating POSTs sent with an `Idempotency-Key`: a retry with the same key
 * returns the first response. The row is written in the same transaction as the thing created.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    principal: text('principal').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    statusCode: integer('status_code').notNull(),
    response: jsonb('response'),
    /**
     * For a request that calls a provider: `started` → `provider_called` → `done`, so a retry
     * resumes where the first attempt stopped (null for requests done in one transaction).
     */
    progress: text('progress').$type<IdempotencyProgress>(),
    /** What the request is working on (e.g. the subscription it created), once known. */
    resourceId: text('resource_id'),
    /** While set and in the future, the first attempt is still running. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ columns: [t.principal, t.key] }),
    index('idempotency_keys_created_at_idx').on(t.createdAt),
  ],
)
