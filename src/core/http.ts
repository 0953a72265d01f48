// Shared HTTP pieces: problem response schemas for OpenAPI, cursor pagination, Idempotency-Key.
import { createHash } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import type { Db, Executor } from './db.ts'
import { AppError, type ErrorCode, errorCodes, retryAfter } from './errors.ts'
import { type IdempotencyProgress, idempotencyKeys } from './tables.ts'

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]),
    errors: z.array(z.object({ location: z.string(), message: z.string() })).optional(),
  })
  .loose()
  .meta({ id: 'Problem', description: 'RFC 9457 problem details, with a stable `code`.' })

/**
 * One error response as OpenAPI and Fastify read it: an RFC 9457 body under the
 * `application/problem+json` media type, which is the type the error handler sends. Use it for a
 * route-specific description; `problems` has the common ones.
 */
export const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
})

/** The error responses every route can give, spread into each route's `response` map. */
export const problems = {
  400: problem('`validation_failed`: the input does not match the schema (see `errors[]`).'),
  401: problem('`unauthorized`: no credentials, or invalid, expired or revoked ones.'),
  403: problem('`forbidden`, `subscription_required` or `limit_exceeded`.'),
  404: problem('`not_found`: no such resource, or not one the caller may see.'),
  409: problem(
    '`conflict` (the request conflicts with the current state) or `idempotency_in_progress` (with `Retry-After`).',
  ),
  429: problem('`rate_limited`: retry after `Retry-After` seconds.'),
  503: problem(
    '`service_busy` (with `Retry-After`: overloaded), `service_unavailable` (the database is down) or `provider_unavailable`: retry later.',
  ),
}

export const publicProblems = {
  400: problems[400],
  404: problems[404],
  429: problems[429],
  503: problems[503],
}

export const PaginationQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Page size, 1–100.'),
  cursor: z.string().max(200).optional().describe('The `next_cursor` of the previous page.'),
})
export type PaginationQuery = z.infer<typeof PaginationQuery>

/** A page of `item`s; its OpenAPI example is the item's example on a last page. */
export const page = <T extends z.ZodType>(item: T) => {
  const schema = z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  })
  const example = item.meta()?.example
  return example === undefined ? schema : schema.meta({ example: { data: [example], next_cursor: null } })
}

/** Opaque cursors: base64url JSON of the sort key of the last row. */
export function encodeCursor(values: (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url')
}

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined) return undefined
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (
      Array.isArray(values) &&
      values.length === arity &&
      values.every((value) => typeof value === 'string' || typeof value === 'number')
    ) {
      return values
    }
  } catch {
    // fall through to the validation error
  }
  throw new AppError('validation_failed', 'Invalid cursor', {
    errors: [{ location: 'query.cursor', message: 'invalid cursor' }],
  })
}

/** Takes `limit + 1` rows and returns one page plus the cursor of the next, if any. */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  cursorOf: (row: Row) => (string | number)[],
  map: (row: Row) => Item,
): { data: Item[]; next_cursor: string | null } {
  const hasMore = rows.length > limit
  const pageRows = hasMore ? rows.slice(0, limit) : rows
  const last = pageRows.at(-1)
  return { data: pageRows.map(map), next_cursor: hasMore && last ? encodeCursor(cursorOf(last)) : null }
}

export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional()
    .describe('Makes this POST safe to retry: a retry with the same key returns the first response.'),
})

export interface Outcome<T> {
  status: number
  body: T
}

const idempotencyWindowHours = 24

function fingerprintOf(req: FastifyRequest): string {
  return createHash('sha256')
    .update(
      `${req.method} ${req.routeOptions.url ?? req.url} ${req.url}\n${JSON.stringify(req.body ?? null)}`,
    )
    .digest('hex')
}

/**
 * What a key already used must still pass before its stored response is answered (or its
 * different body refused): a route whose credential is checked only inside its work (a hot path's
 * one statement) passes the check a fresh request would make, so a replay with a revoked key, an
 * ended session or a lost membership is refused like a fresh request. It throws to refuse.
 * Guarded routes need none: their guard ran before the handler.
 */
export type ReplayCheck = (executor: Executor) => Promise<void>

/**
 * Runs a creating command under the request's Idempotency-Key, if it has one.
 *
 * The key is claimed, the work done and the response stored in one transaction: a concurrent
 * retry waits on the key's row and then replays the stored response, so one thing is created.
 * A failed attempt rolls back its claim and may be retried. Without a key, `work` runs directly
 * on the database so single-statement hot paths stay one round trip. `beforeReplay` runs (in the
 * transaction) only when the key was used before, never on a first request.
 */
export async function idempotent<T>(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  principal: string,
  work: (executor: Executor) => Promise<Outcome<T>>,
  beforeReplay?: ReplayCheck,
): Promise<FastifyReply> {
  const key = req.headers['idempotency-key']
  if (typeof key !== 'string' || key === '') {
    const outcome = await work(db)
    return reply.code(outcome.status).send(outcome.body)
  }
  const fingerprint = fingerprintOf(req)
  const outcome = await db.transaction(async (tx) => {
    const claimed = await tx
      .insert(idempotencyKeys)
      .values({ principal, key, fingerprint, statusCode: 0 })
      .onConflictDoUpdate({
        target: [idempotencyKeys.principal, idempotencyKeys.key],
        set: { fingerprint, statusCode: 0, response: null, createdAt: sql`now()` },
        // An expired key may be used again.
        where: sql`${idempotencyKeys.createdAt} < now() - make_interval(hours => ${idempotencyWindowHours})`,
      })
      .returning({ key: idempotencyKeys.key })
    if (claimed.length === 0) {
      await beforeReplay?.(tx)
      const [stored] = await tx
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key)))
      if (!stored) throw new AppError('conflict', 'The Idempotency-Key is in use by a concurrent request')
      if (stored.fingerprint !== fingerprint) {
        throw new AppError('conflict', 'The Idempotency-Key was already used with a different request')
      }
      return { status: stored.statusCode, body: stored.response as T, replayed: true }
    }
    const result = await work(tx)
    await tx
      .update(idempotencyKeys)
      .set({ statusCode: result.status, response: result.body as object })
      .where(and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key)))
    return { ...result, replayed: false }
  })
  if (outcome.replayed) reply.header('idempotent-replayed', 'true')
  return reply.code(outcome.status).send(outcome.body)
}

/** Records how far a request that calls a provider has got (`provider_called`, with what it works on). */
export type ProgressRecorder = (
  progress: Exclude<IdempotencyProgress, 'done'>,
  resourceId?: string,
) => Promise<void>

/** How long a running attempt keeps its key; a crashed one is taken over after this. */
const idempotencyLeaseSeconds = 60

/**
 * Runs a creating command that calls a provider under the request's Idempotency-Key, without
 * holding a transaction across the call: the key is claimed in a short transaction (`started`),
 * `work` runs its own short transactions around the provider call and records `provider_called`,
 * and the response is stored at the end (`done`). A retry while the first attempt runs gets 409
 * `idempotency_in_progress` with Retry-After; a retry after it failed (or crashed: the lease ran
 * out) runs `work` again, which resumes from what the first attempt left (`work` must be
 * resumable, e.g. by finding the intent it recorded), so the provider is not asked twice.
 */
export async function idempotentResumable<T>(
  db: Db,
  req: FastifyRequest,
  reply: FastifyReply,
  principal: string,
  work: (progress: ProgressRecorder) => Promise<Outcome<T>>,
): Promise<FastifyReply> {
  const key = req.headers['idempotency-key']
  if (typeof key !== 'string' || key === '') {
    const outcome = await work(async () => {})
    return reply.code(outcome.status).send(outcome.body)
  }
  const fingerprint = fingerprintOf(req)
  const lease = sql`now() + make_interval(secs => ${idempotencyLeaseSeconds})`
  const thisKey = and(eq(idempotencyKeys.principal, principal), eq(idempotencyKeys.key, key))
  const claimed = await db
    .insert(idempotencyKeys)
    .values({ principal, key, fingerprint, statusCode: 0, progress: 'started', lockedUntil: lease })
    .onConflictDoUpdate({
      target: [idempotencyKeys.principal, idempotencyKeys.key],
      set: {
        fingerprint,
        statusCode: 0,
        response: null,
        progress: 'started',
        resourceId: null,
        lockedUntil: lease,
        createdAt: sql`now()`,
      },
      where: sql`${idempotencyKeys.createdAt} < now() - make_interval(hours => ${idempotencyWindowHours})`,
    })
    .returning({ key: idempotencyKeys.key })
  if (claimed.length === 0) {
    const [stored] = await db.select().from(idempotencyKeys).where(thisKey)
    if (!stored) throw new AppError('conflict', 'The Idempotency-Key is in use by a concurrent request')
    if (stored.fingerprint !== fingerprint) {
      throw new AppError('conflict', 'The Idempotency-Key was already used with a different request')
    }
    if (stored.statusCode > 0) {
      reply.header('idempotent-replayed', 'true')
      return reply.code(stored.statusCode).send(stored.response as T)
    }
    // Unfinished: take it over unless its first attempt is still running.
    const taken = await db
      .update(idempotencyKeys)
      .set({ lockedUntil: lease })
      .where(
        and(
          thisKey,
          eq(idempotencyKeys.statusCode, 0),
          sql`(${idempotencyKeys.lockedUntil} is null or ${idempotencyKeys.lockedUntil} <= now())`,
        ),
      )
      .returning({ key: idempotencyKeys.key })
    if (taken.length === 0) {
      throw retryAfter(
        new AppError(
          'idempotency_in_progress',
          'The first request with this Idempotency-Key is still running',
        ),
        2,
      )
    }
  }
  let outcome: Outcome<T>
  try {
    outcome = await work(async (progress, resourceId) => {
      await db
        .update(idempotencyKeys)
        .set({ progress, ...(resourceId && { resourceId }) })
        .where(thisKey)
    })
  } catch (error) {
    // Released, with its progress kept: a retry resumes at once (or after the lease, if this fails too).
    await db
      .update(idempotencyKeys)
      .set({ lockedUntil: null })
      .where(thisKey)
      .catch(() => undefined)
    throw error
  }
  await db
    .update(idempotencyKeys)
    .set({
      statusCode: outcome.status,
      response: outcome.body as object,
      progress: 'done',
      lockedUntil: null,
    })
    .where(thisKey)
  return reply.code(outcome.status).send(outcome.body)
}
