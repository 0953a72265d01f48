// Limits are data: a plan's `limits` maps feature keys to numbers, and the key's suffix says what
// is counted. `staff` → live resources; `bookings_per_day` → events per account-local day.
import { AppError } from '../../core/errors.ts'

/** How a limit counts: in total, per local day, or per local month. */
export const featureKinds = ['count', 'per_day', 'per_month'] as const
export type FeatureKind = (typeof featureKinds)[number]

export function featureKind(feature: string): FeatureKind {
  if (feature.endsWith('_per_day')) return 'per_day'
  if (feature.endsWith('_per_month')) return 'per_month'
  return 'count'
}

/** Feature keys: lowercase slugs, so they are safe in JSON paths and URLs. */
export const featureKeyPattern = /^[a-z][a-z0-9_]{0,62}$/

/**
 * The resource-backed features: the service counts them from its own rows, so they change only
 * when those rows do (a staff member added or deleted, a booking made or cancelled). They are
 * always known, always shown in entitlements, and the usage API refuses them: a caller who could
 * consume or release their units could free room the rows still hold, or fill it without rows.
 * Each names the routes that change it, for error messages and the API description.
 */
export const resourceFeatures = {
  staff: { changedBy: 'POST and DELETE /v1/accounts/{id}/staff' },
  bookings_per_day: { changedBy: 'POST /v1/accounts/{id}/bookings and its /cancel' },
} as const satisfies Record<string, { changedBy: string }>

export type ResourceFeature = keyof typeof resourceFeatures

export const resourceFeatureKeys = Object.keys(resourceFeatures) as ResourceFeature[]

export function isResourceFeature(feature: string): feature is ResourceFeature {
  return Object.hasOwn(resourceFeatures, feature)
}

/**
 * Where a feature key stands in the catalogue: `resource` (declared above), `limit` (some plan
 * names it in `limits`), `flag` (some plan names it only in `features`), or `null`: unknown.
 */
export type CatalogueEntry = 'resource' | 'limit' | 'flag' | null

/** 404 unknown_feature: no plan names the key and the service does not declare it. */
export function unknownFeature(feature: string): AppError {
  return new AppError(
    'unknown_feature',
    `Unknown feature "${feature}": no plan names it and it is not built in`,
    { feature },
  )
}

/** 400 feature_not_metered: the key exists but its units cannot be consumed or released by a caller. */
export function featureNotMetered(feature: string): AppError {
  const detail = isResourceFeature(feature)
    ? `"${feature}" is counted from the account's own rows; it changes only through ${resourceFeatures[feature].changedBy}`
    : `"${feature}" is an on/off flag of the plans, not a metered limit`
  return new AppError('feature_not_metered', detail, { feature })
}
