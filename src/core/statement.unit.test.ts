import { sql } from 'drizzle-orm'
import { PgDialect, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { describe, expect, it } from 'vitest'
import { instant, statement, statementParams, statementSql } from './statement.ts'

const things = pgTable('things', { id: uuid('id').primaryKey(), name: text('name') })

interface Values {
  id: string
  name: string | null
  at: string
}

const find = statement<Values>(
  (slot) =>
    sql`select ${things.id} from ${things} where ${things.id} = ${slot.id}::uuid and (${things.name} = ${slot.name} or ${slot.name}::text is null) and ${'fixed'} <> '' and now() > ${instant(slot.at)} and ${'$1 is text'} <> ''`,
)

describe('statement', () => {
  it('renders the text once, numbering each slot use and fixed value in order', () => {
    expect(find.text).toBe(
      `select "things"."id" from "things" where "things"."id" = $1::uuid and ("things"."name" = $2 or $3::text is null) and $4 <> '' and now() > $5::timestamptz and $6 <> ''`,
    )
    expect(find.params).toEqual([
      { slot: 'id' },
      { slot: 'name' },
      { slot: 'name' },
      { fixed: 'fixed' },
      { slot: 'at' },
      { fixed: '$1 is text' },
    ])
    expect(find.segments).toHaveLength(7)
  })

  it('fills the slots from the call values, nulls included', () => {
    const values = { id: 'a', name: null, at: '2026-01-01T00:00:00.000Z' }
    expect(statementParams(find, values)).toEqual(['a', null, null, 'fixed', values.at, '$1 is text'])
  })

  it('refuses a call that leaves a slot without a value', () => {
    expect(() => statementParams(find, { id: 'a', name: 'n' } as unknown as Values)).toThrow(/"at"/)
  })

  it('gives Drizzle the same text and values for executors that take SQL', () => {
    const values = { id: 'a', name: 'n', at: '2026-01-01T00:00:00.000Z' }
    const query = new PgDialect().sqlToQuery(statementSql(find, values))
    expect(query.sql).toBe(find.text)
    expect(query.params).toEqual(statementParams(find, values))
  })

  it('keeps an array value one parameter', () => {
    const any = statement<{ ids: string[] }>((slot) => sql`select 1 where 'a' = any(${slot.ids})`)
    const query = new PgDialect().sqlToQuery(statementSql(any, { ids: ['a', 'b'] }))
    expect(query.sql).toBe(`select 1 where 'a' = any($1)`)
    expect(query.params).toEqual([['a', 'b']])
  })
})
