// The access rule exists twice, in TypeScript (responses, lifecycle checks) and in SQL (the hot
// statements that enforce limits); here both are asked the same questions.
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/db.ts'
import { queryRows } from '../../core/db.ts'
import { effectiveStatus, grantsAccess, grantsAccessSql, stripeRenewalLeewayMs } from './access.ts'
import { type SubscriptionStatus, subscriptionStatuses } from './tables.ts'

const hour = 3_600_000

describe('the access rule', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase()
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('says the same in TypeScript and in SQL for every status, provider, period end and grace', async () => {
    const now = new Date('2030-05-10T12:00:00.000Z')
    const offsets = [-stripeRenewalLeewayMs - hour, -stripeRenewalLeewayMs + hour, -hour, -1, 0, 1, hour]
    const cases: {
      status: SubscriptionStatus
      provider: string
      currentPeriodEnd: Date
      graceUntil: Date | null
    }[] = []
    for (const status of subscriptionStatuses)
      for (const provider of ['manual', 'stripe'])
        for (const end of offsets)
          for (const grace of [null, ...offsets])
            cases.push({
              status,
              provider,
              currentPeriodEnd: new Date(now.getTime() + end),
              graceUntil: grace === null ? null : new Date(now.getTime() + grace),
            })
    const values = sql.join(
      cases.map(
        (c, i) =>
          sql`(${i}::int, ${c.status}::text, ${c.provider}::text, ${c.currentPeriodEnd.toISOString()}::timestamptz, ${c.graceUntil?.toISOString() ?? null}::timestamptz)`,
      ),
      sql`, `,
    )
    const rows = await queryRows<{ i: number; has_access: boolean }>(
      db.database.db,
      sql`select s.i, ${grantsAccessSql('s', now)} as has_access
          from (values ${values}) as s(i, status, provider, current_period_end, grace_until) order by s.i`,
    )
    expect(rows).toHaveLength(cases.length)
    const disagreements = rows.filter(
      (row) => row.has_access !== grantsAccess(cases[row.i] as (typeof cases)[number], now),
    )
    expect(disagreements).toEqual([])
    // And the cases are not all alike: both answers occur.
    expect(new Set(rows.map((row) => row.has_access))).toEqual(new Set([true, false]))
  })

  it('keeps a renewing Stripe subscription for the leeway after its period end, a manual one not', () => {
    const now = new Date('2030-05-10T12:00:00.000Z')
    const ended = new Date(now.getTime() - hour)
    const base = { status: 'active' as const, currentPeriodEnd: ended, graceUntil: null, endedAt: null }
    expect(grantsAccess({ ...base, provider: 'stripe' }, now)).toBe(true)
    expect(grantsAccess({ ...base, provider: 'manual' }, now)).toBe(false)
    expect(effectiveStatus({ ...base, provider: 'manual' }, now)).toBe('expired')
    expect(grantsAccess({ ...base, status: 'canceled', provider: 'stripe' }, now)).toBe(false)
    expect(
      grantsAccess(
        { ...base, status: 'past_due', provider: 'stripe', graceUntil: new Date(now.getTime() + hour) },
        now,
      ),
    ).toBe(true)
  })
})
