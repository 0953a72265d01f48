// Hot-path statements rendered once. Turning a Drizzle `sql` tree (tables, aliased columns,
// nested fragments) into text costs more CPU than the rest of a hot-path request, so a hot
// statement is built once, at module load, with a named slot wherever a value goes, and each call
// only fills the slots. The text never changes between calls, which also keeps it one named
// prepared statement per connection on PostgreSQL.
import { Param, Placeholder, SQL, StringChunk, sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'

/** A value in a statement's SQL: known when it is built, or a slot filled on each call. */
export type Value<T> = T | Placeholder

/** An instant as SQL `timestamptz`; a slot holds it as an ISO 8601 string. */
export const instant = (at: Value<Date>): SQL =>
  sql`${at instanceof Date ? at.toISOString() : at}::timestamptz`

/** The slots of a statement whose call values are `V`: `slot.accountId` is the `accountId` slot. */
export type Slots<V> = { readonly [K in keyof V]-?: Placeholder }

/** A statement rendered to text once; run it with `runStatement` (core/db.ts). */
export interface Statement<V> {
  /** The PostgreSQL text, with `$1`… for its parameters. */
  readonly text: string
  /** The text between the parameters (one more than the parameters). */
  readonly segments: readonly string[]
  /** Per parameter: the slot it takes its value from, or the value fixed when it was built. */
  readonly params: readonly ({ slot: string } | { fixed: unknown })[]
  /** Compile-time only: the values a call supplies. */
  readonly values?: V
}

// A dialect that marks each parameter so the rendered text can be cut at them.
const mark = '\u0000'
class MarkingDialect extends PgDialect {
  override escapeParam(num: number): string {
    return `${mark}${num}${mark}`
  }
}
const marking = new MarkingDialect()

/**
 * Builds and renders a statement once. `build` receives the slots; every value that varies per
 * call must come from a slot (a value written into the SQL is fixed for every call).
 */
export function statement<V extends object>(build: (slot: Slots<V>) => SQL): Statement<V> {
  const slot = new Proxy({} as Slots<V>, {
    get: (_, key) => (typeof key === 'string' ? sql.placeholder(key) : undefined),
  })
  const { sql: marked, params } = marking.sqlToQuery(build(slot))
  const parts = marked.split(mark)
  const segments: string[] = []
  let text = ''
  for (let i = 0; i < parts.length; i += 2) {
    const segment = parts[i] ?? ''
    segments.push(segment)
    text += segment
    if (i + 1 < parts.length) text += `$${Number(parts[i + 1]) + 1}`
  }
  return {
    text,
    segments,
    params: params.map((param) => {
      if (param instanceof Placeholder) return { slot: param.name }
      if (param instanceof Param && param.value instanceof Placeholder) return { slot: param.value.name }
      return { fixed: param }
    }),
  }
}

/** The parameter values of one call, in the statement's order. */
export function statementParams<V>(statement: Statement<V>, values: V): unknown[] {
  const given = values as Record<string, unknown>
  return statement.params.map((param) => {
    if ('fixed' in param) return param.fixed
    const value = given[param.slot]
    if (value === undefined) throw new Error(`no value for the statement slot "${param.slot}"`)
    return value
  })
}

/** The statement as Drizzle SQL with the call's values (for executors that only take SQL). */
export function statementSql<V>(statement: Statement<V>, values: V): SQL {
  const params = statementParams(statement, values)
  const chunks: unknown[] = [new StringChunk(statement.segments[0] ?? '')]
  params.forEach((value, i) => {
    chunks.push(new Param(value), new StringChunk(statement.segments[i + 1] ?? ''))
  })
  return new SQL(chunks as SQL['queryChunks'])
}
