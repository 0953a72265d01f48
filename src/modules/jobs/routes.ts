import { sql } from 'drizzle-orm'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { type Db, queryRows } from '../../core/db.ts'
import { decodeCursor, page, problems, toPage } from '../../core/http.ts'
import { type JobRow, jobColumns, jobSchema, toJob } from './records.ts'
import { Job, ListJobsQuery } from './schemas.ts'

/**
 * `GET /v1/admin/jobs`. The site-admin guard is passed in by the composition root, so the queue's
 * module depends on no other module.
 */
export const jobRoutes =
  (deps: { db: Db }, requireAdmin: (req: FastifyRequest) => Promise<void>): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/v1/admin/jobs',
      {
        schema: {
          tags: ['admin'],
          summary: 'List background jobs',
          description:
            'Site admins: jobs newest first, filtered by state (e.g. `failed`: jobs that used up their retries and are kept for inspection) and name.',
          operationId: 'listJobs',
          security: [{ bearer: [] }],
          querystring: ListJobsQuery,
          response: { 200: page(Job), ...problems },
        },
        preHandler: requireAdmin,
      },
      async (req) => {
        const { state, name, limit } = req.query
        const cursor = decodeCursor(req.query.cursor, 2)
        const rows = await queryRows<JobRow>(
          deps.db,
          sql`select ${jobColumns}
              from ${sql.identifier(jobSchema)}.job
              where (${state ?? null}::text is null or state::text = ${state ?? null})
                and (${name ?? null}::text is null or name = ${name ?? null})
                and (${cursor ? String(cursor[0]) : null}::timestamptz is null
                     or (created_on, id::text) < (${cursor ? String(cursor[0]) : null}::timestamptz, ${cursor ? String(cursor[1]) : null}))
              order by created_on desc, id::text desc
              limit ${limit + 1}`,
        )
        return toPage(rows, limit, (row) => [new Date(row.created_on).toISOString(), row.id], toJob)
      },
    )
  }
