import { type Role, roles } from '../../core/vocabulary.ts'

export { type Role, roles }

const rank: Record<Role, number> = { member: 1, admin: 2, owner: 3 }

/** True when `role` is at least `minimum` (owner > admin > member). */
export const roleAtLeast = (role: Role, minimum: Role): boolean => rank[role] >= rank[minimum]

/** Every role at least `minimum`, for SQL `in (...)` lists. */
export const rolesFrom = (minimum: Role): Role[] => roles.filter((role) => roleAtLeast(role, minimum))
