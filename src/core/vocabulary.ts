// Closed word lists used on several layers: each list is the one source of its union type, its
// zod enum and its column type. They live here because the mail templates (below the modules that
// own these words) must name them too.

/** The roles of an account member, highest first (owned by accounts: see accounts/roles.ts). */
export const roles = ['owner', 'admin', 'member'] as const
export type Role = (typeof roles)[number]

/** How often a plan bills (owned by plans). */
export const planIntervals = ['month', 'year'] as const
export type PlanInterval = (typeof planIntervals)[number]
