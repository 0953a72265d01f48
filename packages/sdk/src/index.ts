export {
  createPlangate,
  isRetryable,
  isRetryableStatus,
  type Plangate,
  type PlangateOptions,
  plangateMiddleware,
  retryAfterMs,
  retryingFetch,
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
export type { components, operations, paths } from './schema.d.ts'
export {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookEvent,
  type WebhookHeaders,
  WebhookSignatureError,
  type WebhookSignatureReason,
} from './webhooks.ts'
