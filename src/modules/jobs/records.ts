// pg-boss's job rows as the admin API shows them: the columns read and the mapping to `Job`.
import { type SQL, sql } from 'drizzle-orm'
import type { Job } from './schemas.ts'

export const jobSchema = 'pgboss'

export interface JobRow {
  id: string
  name: string
  state: Job['state']
  data: unknown
  retry_count: number
  retry_limit: number
  output: unknown
  created_on: Date
  started_on: Date | null
  completed_on: Date | null
  start_after: Date
}

/** The columns of `JobRow`, selected from pg-boss's job table. */
export const jobColumns: SQL = sql`id::text, name, state::text as state, data, retry_count, retry_limit, output,
  created_on, started_on, completed_on, start_after`

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString())

export const toJob = (row: JobRow): Job => ({
  id: row.id,
  name: row.name,
  state: row.state,
  data: row.data,
  retry_count: row.retry_count,
  retry_limit: row.retry_limit,
  output: row.output,
  created_on: new Date(row.created_on).toISOString(),
  started_on: iso(row.started_on),
  completed_on: iso(row.completed_on),
  start_after: new Date(row.start_after).toISOString(),
})
