// Limits are data: a plan's `limits` maps feature keys to numbers, and the key's suffix says what
// is counted. `staff` → live resources; `bookings_per_day` → events per account-local day.

export type FeatureKind = 'count' | 'per_day' | 'per_month'

export function featureKind(feature: string): FeatureKind {
  if (feature.endsWith('_per_day')) return 'per_day'
  if (feature.endsWith('_per_month')) return 'per_month'
  return 'count'
}

/** Feature keys: lowercase slugs, so they are safe in JSON paths and URLs. */
export const featureKeyPattern = /^[a-z][a-z0-9_]{0,62}$/

/** The reference domain's features, always shown in entitlements. */
export const referenceFeatures = ['staff', 'bookings_per_day'] as const
