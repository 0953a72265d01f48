// The README's table of outgoing events is the catalogue in code: same types, same order, same words.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { eventCatalogue, eventTypes } from './catalogue.ts'

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')

/** The rows of the README table whose header is `| event | when | data |` (data in backticks). */
function readmeEventTable(): { type: string; when: string; data: string }[] {
  const lines = readme.split('\n')
  const header = lines.findIndex((line) => /^\|\s*event\s*\|\s*when\s*\|\s*`?data`?\s*\|\s*$/.test(line))
  expect(header, 'README has an event table').toBeGreaterThan(-1)
  const rows: { type: string; when: string; data: string }[] = []
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim())
    expect(cells, line).toHaveLength(3)
    const [type, when, data] = cells as [string, string, string]
    rows.push({ type: type.replace(/^`|`$/g, ''), when, data })
  }
  return rows
}

describe('outgoing event catalogue', () => {
  it('is the README event table, row for row', () => {
    const documented = readmeEventTable()
    expect(documented.map((row) => row.type)).toEqual([...eventTypes])
    for (const row of documented) {
      expect(eventCatalogue[row.type as keyof typeof eventCatalogue], row.type).toEqual({
        when: row.when,
        data: row.data,
      })
    }
  })
})
