// Direct database work of the benchmark: (re)creating the bench database, the lookup table of the
// seeded accounts, the optional history prefill, and integrity checks after the runs.
import pg from 'pg'
import { BenchError, baseDayMs, benchDatabaseName, bookingsPerDay, redactUrl } from './config.ts'
import type { SeededUser } from './seed.ts'

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  try {
    await client.connect()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new BenchError(
      `PostgreSQL is not reachable at ${redactUrl(url)} (${reason}).\n` +
        'Start it, or point BENCH_DATABASE_URL (or TEST_DATABASE_URL) at a server where you may create a database.',
    )
  }
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Drops and creates the bench database; returns the server version and how busy the server is. */
export async function recreateBenchDatabase(
  adminUrl: string,
): Promise<{ version: string; otherActive: number }> {
  return withClient(adminUrl, async (client) => {
    const version = (await client.query<{ v: string }>('select version() as v')).rows[0]?.v ?? 'unknown'
    const busy = await client.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where state = 'active' and pid <> pg_backend_pid()",
    )
    await client.query(`drop database if exists ${benchDatabaseName} with (force)`)
    await client.query(`create database ${benchDatabaseName}`)
    return { version, otherActive: busy.rows[0]?.n ?? 0 }
  })
}

/** `bench_accounts(i, account_id, user_id)`: the seeded accounts, numbered from 1. */
export async function writeBenchAccounts(client: pg.Client, users: SeededUser[]): Promise<void> {
  await client.query(
    'create table bench_accounts (i int primary key, account_id uuid not null, user_id uuid not null)',
  )
  await client.query(
    'insert into bench_accounts (i, account_id, user_id) select * from unnest($1::int[], $2::uuid[], $3::uuid[])',
    [
      users.map((_, index) => index + 1),
      users.map((user) => user.accountId),
      users.map((user) => user.userId),
    ],
  )
}

/**
 * Inserts `count` confirmed bookings (and their day counters, each day full at the limit) on the
 * days before the measured range, spread over the seeded accounts, then vacuums and analyzes.
 */
export async function prefillHistory(client: pg.Client, count: number, accounts: number): Promise<void> {
  const lastDay = new Date(baseDayMs - 86_400_000).toISOString().slice(0, 10)
  await client.query(
    `insert into bookings (id, account_id, staff_id, customer_name, starts_at, duration_minutes, status, local_date, created_at)
     select gen_random_uuid(), b.account_id, null, 'history', (d.day + time '10:00') at time zone a.timezone, 60,
            'confirmed', d.day, now()
     from generate_series(0, $1::int - 1) as g
     cross join lateral (select $2::date - ((g / $3::int) / $4::int) as day) as d
     join bench_accounts b on b.i = g % $3::int + 1
     join accounts a on a.id = b.account_id`,
    [count, lastDay, accounts, bookingsPerDay],
  )
  await client.query(
    `insert into usage_counters (account_id, feature, period, used, updated_at)
     select account_id, 'bookings_per_day', to_char(local_date, 'YYYY-MM-DD'), count(*), now()
     from bookings where customer_name = 'history'
     group by account_id, local_date`,
  )
  await client.query('vacuum analyze bookings, usage_counters')
}

export async function countBookings(client: pg.Client): Promise<number> {
  const result = await client.query<{ n: number }>('select count(*)::int as n from bookings')
  return result.rows[0]?.n ?? 0
}

/** How many accounts have their busy day (day 0, account-local) at exactly the limit, in counter and rows. */
export async function busyDayFull(client: pg.Client): Promise<{ full: number; accounts: number }> {
  const result = await client.query<{ full: number; accounts: number }>(
    `with day as (
       select b.account_id, to_char((to_timestamp($1::float8 / 1000) at time zone a.timezone)::date, 'YYYY-MM-DD') as period
       from bench_accounts b join accounts a on a.id = b.account_id
     )
     select count(*)::int as accounts,
       count(*) filter (
         where (select c.used from usage_counters c
                where c.account_id = day.account_id and c.feature = 'bookings_per_day' and c.period = day.period) = $2::int
           and (select count(*) from bookings k
                where k.account_id = day.account_id and k.local_date = day.period::date and k.status = 'confirmed') = $2::int
       )::int as full
     from day`,
    [baseDayMs, bookingsPerDay],
  )
  return result.rows[0] ?? { full: 0, accounts: 0 }
}

/** Account-days holding more confirmed bookings than the limit, or a counter that disagrees with the rows. */
export async function integrityProblems(
  client: pg.Client,
): Promise<{ overLimit: number; mismatched: number }> {
  const result = await client.query<{ over_limit: number; mismatched: number }>(
    `with days as (
       select account_id, to_char(local_date, 'YYYY-MM-DD') as period, count(*) as n
       from bookings where status = 'confirmed' group by account_id, local_date
     )
     select
       (select count(*) from days where n > $1::int)::int as over_limit,
       (select count(*) from days d
        full join (select * from usage_counters where feature = 'bookings_per_day') c
          on c.account_id = d.account_id and c.period = d.period
        where coalesce(d.n, 0) <> coalesce(c.used, 0))::int as mismatched`,
    [bookingsPerDay],
  )
  const row = result.rows[0]
  return { overLimit: row?.over_limit ?? 0, mismatched: row?.mismatched ?? 0 }
}
