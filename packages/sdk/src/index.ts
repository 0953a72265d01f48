// The SDK for servers: everything the browser entry has, and webhook verification.
export * from './browser.ts'
export {
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookEvent,
  type WebhookHeaders,
  WebhookSignatureError,
  type WebhookSignatureReason,
} from './webhooks.ts'
