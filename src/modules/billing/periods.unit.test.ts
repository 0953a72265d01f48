import { describe, expect, it } from 'vitest'
import { addMonths, periodEnd, prorationCents, remainingFraction } from './periods.ts'

const utc = (iso: string) => new Date(iso)

describe('addMonths', () => {
  it('keeps the day of month and the time of day when the target month has that day', () => {
    expect(addMonths(utc('2030-03-15T10:20:30.400Z'), 1).toISOString()).toBe('2030-04-15T10:20:30.400Z')
  })

  it('clamps Jan 31 to Feb 28 in a common year', () => {
    expect(addMonths(utc('2030-01-31T08:00:00Z'), 1).toISOString()).toBe('2030-02-28T08:00:00.000Z')
  })

  it('clamps Jan 31 to Feb 29 in a leap year', () => {
    expect(addMonths(utc('2028-01-31T08:00:00Z'), 1).toISOString()).toBe('2028-02-29T08:00:00.000Z')
  })

  it('clamps the 31st to the 30th in a 30-day month', () => {
    expect(addMonths(utc('2030-03-31T00:00:00Z'), 1).toISOString()).toBe('2030-04-30T00:00:00.000Z')
  })

  it('does not carry a clamped day into later months (each call starts from its own date)', () => {
    const start = utc('2030-01-31T00:00:00Z')
    expect(addMonths(start, 2).toISOString()).toBe('2030-03-31T00:00:00.000Z')
    expect(addMonths(start, 3).toISOString()).toBe('2030-04-30T00:00:00.000Z')
  })

  it('rolls December over into January of the next year', () => {
    expect(addMonths(utc('2030-12-15T12:00:00Z'), 1).toISOString()).toBe('2031-01-15T12:00:00.000Z')
    expect(addMonths(utc('2030-12-31T23:59:59Z'), 2).toISOString()).toBe('2031-02-28T23:59:59.000Z')
  })

  it('moves backwards across a year boundary for negative months', () => {
    expect(addMonths(utc('2030-01-31T00:00:00Z'), -2).toISOString()).toBe('2029-11-30T00:00:00.000Z')
  })

  it('works in UTC whatever the date looks like in other zones (23:30 UTC on the last day stays there)', () => {
    expect(addMonths(utc('2030-01-31T23:30:00Z'), 1).toISOString()).toBe('2030-02-28T23:30:00.000Z')
  })
})

describe('periodEnd', () => {
  it('is one calendar month later for a monthly plan', () => {
    expect(periodEnd(utc('2030-05-10T09:00:00Z'), 'month').toISOString()).toBe('2030-06-10T09:00:00.000Z')
  })

  it('is twelve calendar months later for a yearly plan', () => {
    expect(periodEnd(utc('2030-05-10T09:00:00Z'), 'year').toISOString()).toBe('2031-05-10T09:00:00.000Z')
  })

  it('clamps Feb 29 to Feb 28 for a yearly plan started on a leap day', () => {
    expect(periodEnd(utc('2028-02-29T00:00:00Z'), 'year').toISOString()).toBe('2029-02-28T00:00:00.000Z')
  })
})

describe('remainingFraction', () => {
  const start = utc('2030-01-01T00:00:00Z')
  const end = utc('2030-01-11T00:00:00Z')

  it('is 1 at the start of the period and 0 at its end', () => {
    expect(remainingFraction(start, end, start)).toBe(1)
    expect(remainingFraction(start, end, end)).toBe(0)
  })

  it('is the share of time still ahead in the middle of the period', () => {
    expect(remainingFraction(start, end, utc('2030-01-03T12:00:00Z'))).toBeCloseTo(0.75, 10)
  })

  it('is clamped to [0, 1] before the start and after the end', () => {
    expect(remainingFraction(start, end, utc('2029-12-01T00:00:00Z'))).toBe(1)
    expect(remainingFraction(start, end, utc('2030-02-01T00:00:00Z'))).toBe(0)
  })

  it('is 0 for an empty or inverted period instead of dividing by zero', () => {
    expect(remainingFraction(start, start, start)).toBe(0)
    expect(remainingFraction(end, start, start)).toBe(0)
  })
})

describe('prorationCents', () => {
  it('charges the price difference for the whole period when nothing has been used', () => {
    expect(prorationCents(1900, 4900, 1)).toBe(3000)
  })

  it('charges the price difference pro rata for the time left', () => {
    expect(prorationCents(1900, 4900, 0.5)).toBe(1500)
  })

  it('is zero when no time is left', () => {
    expect(prorationCents(1900, 4900, 0)).toBe(0)
  })

  it('is never negative: a downgrade is not refunded', () => {
    expect(prorationCents(4900, 1900, 1)).toBe(0)
    expect(prorationCents(4900, 1900, 0.3)).toBe(0)
  })

  it('rounds to whole minor units (half up)', () => {
    expect(prorationCents(0, 1000, 1 / 3)).toBe(333)
    expect(prorationCents(0, 1000, 2 / 3)).toBe(667)
    expect(prorationCents(0, 3, 0.5)).toBe(2)
    expect(Number.isInteger(prorationCents(1900, 4900, 0.123456))).toBe(true)
  })
})
