// Every table, for drizzle-kit (drizzle.config.ts) only: the app builds Drizzle without it
// (core/db.ts). Each module owns its own file.
export * from '../core/tables.ts'
export * from '../modules/accounts/tables.ts'
export * from '../modules/audit/tables.ts'
export * from '../modules/auth/tables.ts'
export * from '../modules/billing/tables.ts'
export * from '../modules/bookings/tables.ts'
export * from '../modules/entitlements/tables.ts'
export * from '../modules/invitations/tables.ts'
export * from '../modules/plans/tables.ts'
export * from '../modules/staff/tables.ts'
export * from '../modules/subscriptions/tables.ts'
export * from '../modules/webhooks/tables.ts'
