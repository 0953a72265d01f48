// Closed word lists used on several layers: each list is the one source of its union type, its
// zod enum, its column type and its check constraint. They live here because the mail templates
// (below the modules that own these words) must name them too.
import { type SQL, sql } from 'drizzle-orm'

/**
 * A closed list as SQL literals, `'a', 'b'`, for check constraints. Only for the `as const` lists
 * of code (never input): the words are written into the SQL text, so a migration's check
 * constraint reads the same as the one drizzle-kit derives from the table.
 */
export const sqlWords = (words: readonly string[]): SQL =>
  sql.raw(words.map((word) => `'${word.replaceAll("'", "''")}'`).join(', '))

/** The roles of an account member, highest first (owned by accounts: see accounts/roles.ts). */
export const roles = ['owner', 'admin', 'member'] as const
export type Role = (typeof roles)[number]

/** How often a plan bills (owned by plans). */
export const planIntervals = ['month', 'year'] as const
export type PlanInterval = (typeof planIntervals)[number]
