// The SDK for browsers: everything but webhook verification, which needs the webhook secret and
// so belongs on a server (and uses node:crypto).
export {
  createPlangate,
  isRetryable,
  isRetryableStatus,
  type Plangate,
  type PlangateOptions,
  plangateMiddleware,
  retryAfterMs,
  retryingFetch,
  takesIdempotencyKey,
} from './client.ts'
export {
  type ListItem,
  type ListPath,
  PlangateError,
  type Problem,
  type ProblemCode,
  paginate,
  toPlangateError,
  unwrap,
} from './errors.ts'
export { idempotentOperations } from './idempotent-operations.ts'
export type { components, operations, paths } from './schema.d.ts'
