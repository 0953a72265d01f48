// .env.example lists every setting the service reads, each once, and nothing else; with every
// line uncommented it is a configuration the service accepts.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigSchema, loadConfig } from '../src/config.ts'

const lines = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n')
const settings = lines
  .map((line) => /^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
  .filter((match): match is RegExpExecArray => match !== null)

describe('.env.example', () => {
  it('names every setting once, and only settings', () => {
    const names = settings.map((match) => match[1])
    expect(new Set(names).size).toBe(names.length)
    expect([...names].sort()).toEqual(Object.keys(ConfigSchema.shape).sort())
  })

  it('gives values the service accepts, where it gives one', () => {
    const env: Record<string, string> = {}
    for (const [, name, value] of settings) {
      // Placeholders to fill in are left out: empty values and the elided secrets.
      if (name && value && !value.endsWith('...')) env[name] = value
    }
    expect(() => loadConfig(env)).not.toThrow()
  })
})
