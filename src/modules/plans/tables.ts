import { sql } from 'drizzle-orm'
import { boolean, check, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { type PlanInterval, planIntervals, sqlWords } from '../../core/vocabulary.ts'

export const plans = pgTable(
  'plans',
  {
    id: uuid('id').primaryKey(),
    code: text('code').notNull().unique(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    priceCents: integer('price_cents').notNull(),
    currency: text('currency').notNull().default('usd'),
    interval: text('interval').$type<PlanInterval>().notNull().default('month'),
    tier: integer('tier').notNull().default(0),
    trialDays: integer('trial_days').notNull().default(0),
    /** Feature key → limit (null = unlimited); the key's suffix gives its kind (see entitlements). */
    limits: jsonb('limits').$type<Record<string, number | null>>().notNull().default({}),
    /** Boolean feature flags. */
    features: jsonb('features').$type<Record<string, boolean>>().notNull().default({}),
    isActive: boolean('is_active').notNull().default(true),
    stripeProductId: text('stripe_product_id'),
    stripePriceId: text('stripe_price_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    check('plans_price_check', sql`${t.priceCents} >= 0`),
    check('plans_interval_check', sql`${t.interval} in (${sqlWords(planIntervals)})`),
    check('plans_trial_days_check', sql`${t.trialDays} >= 0`),
  ],
)
