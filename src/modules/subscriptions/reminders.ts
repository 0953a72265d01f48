// Reminders are transitions that change nothing: recorded once per subscription and occasion (the
// `key` in the history's data, under a unique index), so the sweep and Stripe's notice never send
// the same reminder twice.
import type { Executor } from '../../core/db.ts'
import { systemActor } from '../audit/audit.ts'
import type { SubscriptionRow } from './tables.ts'
import { recordTransition, type TransitionDeps } from './transitions.ts'

/** A reminder recorded once per subscription and occasion (`key` in the history's data). */
async function remindOnce(
  tx: Executor,
  deps: TransitionDeps,
  row: SubscriptionRow,
  type: 'trial_will_end' | 'grace_ending',
  key: string,
  now: Date,
): Promise<boolean> {
  // The unique reminder index makes a second record (a concurrent sweep, Stripe's notice) a no-op.
  return recordTransition(tx, { deps, actor: systemActor, now }, row, row, type, { key })
}

/** The trial-ending reminder (from the sweep, or Stripe's `trial_will_end`): once per trial end. */
export const remindTrialEnding = (tx: Executor, deps: TransitionDeps, row: SubscriptionRow, now: Date) =>
  row.trialEnd
    ? remindOnce(tx, deps, row, 'trial_will_end', row.trialEnd.toISOString(), now)
    : Promise.resolve(false)

/** The reminder that a past_due subscription's grace period ends soon: once per grace end. */
export const remindGraceEnding = (tx: Executor, deps: TransitionDeps, row: SubscriptionRow, now: Date) =>
  remindOnce(tx, deps, row, 'grace_ending', row.graceUntil?.toISOString() ?? '', now)
