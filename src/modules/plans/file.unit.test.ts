// The plan file and the diff as plain functions: what a push would send, and how it is described.
import { describe, expect, it } from 'vitest'
import { describeChange, diffPlans, parsePlanFile, plansToYaml } from './file.ts'
import type { Plan } from './schemas.ts'

const plan = (code: string, overrides: Partial<Plan> = {}): Plan => ({
  code,
  name: code.toUpperCase(),
  description: '',
  price_cents: 1000,
  currency: 'usd',
  interval: 'month',
  tier: 1,
  trial_days: 0,
  limits: { staff: 2 },
  features: {},
  is_active: true,
  ...overrides,
})

const fileOf = (text: string) => {
  const parsed = parsePlanFile(text)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems))
  return parsed.plans
}

describe('plan files', () => {
  it('round-trips: the YAML of the server plans diffs to nothing, retired ones included', () => {
    const server = [
      plan('b', { tier: 2, limits: { staff: null, bookings_per_day: 5 } }),
      plan('a', { is_active: false }),
    ]
    expect(diffPlans(fileOf(plansToYaml(server)), server, { prune: true })).toEqual([])
  })

  it('reads the values as the API would store them: currency in any case, names trimmed, defaults filled in', () => {
    const server = [plan('a', { currency: 'eur' })]
    const text =
      'plans:\n  - code: a\n    name: "  A  "\n    price_cents: 1000\n    currency: EUR\n    tier: 1\n    limits: { staff: 2 }\n'
    expect(diffPlans(fileOf(text), server, { prune: false })).toEqual([])
  })

  it('names each changed limit and feature, a missing one as (none) and null as unlimited, and sends them whole', () => {
    const server = [plan('a', { limits: { staff: 2, sms: 10 }, features: { api: true } })]
    const wanted = fileOf(
      'plans:\n  - code: a\n    name: A\n    price_cents: 1000\n    tier: 1\n    limits: { staff: null, exports_per_month: 3 }\n    features: { api: true }\n',
    )
    const [change] = diffPlans(wanted, server, { prune: false })
    expect(change).toMatchObject({
      action: 'update',
      patch: { limits: { staff: null, exports_per_month: 3 } },
    })
    expect(change && 'patch' in change && change.patch.features).toBeUndefined()
    expect(change && describeChange(change)).toEqual([
      '~ update a',
      '    limits.exports_per_month (none) → 3',
      '    limits.sms 10 → (none)',
      '    limits.staff 2 → unlimited',
    ])
  })

  it('a new plan marked active: false is created and then retired; a retired plan with changes is patched then retired', () => {
    const server = [plan('a')]
    const wanted = fileOf(
      'plans:\n  - code: a\n    name: A\n    price_cents: 1200\n    tier: 1\n    limits: { staff: 2 }\n    active: false\n  - code: n\n    name: N\n    price_cents: 0\n    active: false\n',
    )
    const changes = diffPlans(wanted, server, { prune: false })
    expect(changes).toMatchObject([
      { action: 'retire', code: 'a', patch: { price_cents: 1200 } },
      { action: 'create', code: 'n', retired: true },
    ])
    expect(describeChange(changes[0] as never).at(-1)).toMatch(
      /^ {4}note: new price for new subscribers; current subscribers keep theirs/,
    )
  })

  it('plans only on the server: active ones are left alone or, with prune, retired; retired ones are not mentioned', () => {
    const server = [plan('a'), plan('gone'), plan('old', { is_active: false })]
    const wanted = fileOf(
      'plans:\n  - code: a\n    name: A\n    price_cents: 1000\n    tier: 1\n    limits: { staff: 2 }\n',
    )
    expect(diffPlans(wanted, server, { prune: false })).toEqual([{ action: 'leave', code: 'gone' }])
    expect(diffPlans(wanted, server, { prune: true })).toMatchObject([
      { action: 'retire', code: 'gone', pruned: true, patch: {} },
    ])
  })

  it('reports every problem of a file, in line order, and an empty file as one', () => {
    const parsed = parsePlanFile(
      'plans:\n  - code: Bad Code\n    name: ""\n    price_cents: 1.5\n    interval: week\n',
    )
    expect(parsed.ok).toBe(false)
    if (parsed.ok) return
    expect(
      parsed.problems.map((problem) => `${problem.line}:${problem.col} ${problem.message.split(':')[0]}`),
    ).toEqual([
      '2:11 plans[0].code',
      '3:11 plans[0].name',
      '4:18 plans[0].price_cents',
      '5:15 plans[0].interval',
    ])
    expect(parsePlanFile('')).toMatchObject({ ok: false, problems: [{ line: 1, col: 1 }] })
  })
})
