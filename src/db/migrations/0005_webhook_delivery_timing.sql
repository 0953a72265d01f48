ALTER TABLE "webhook_deliveries" ADD COLUMN "last_duration_ms" integer;--> statement-breakpoint
-- The delivery log used to keep the start of a failed response's body (and a redirect's target):
-- whatever an endpoint answered could be read back by admins. Keep the status only.
UPDATE "webhook_deliveries" SET "last_error" = CASE WHEN "last_status_code" IS NOT NULL THEN 'HTTP ' || "last_status_code" ELSE 'Delivery failed' END WHERE "last_error" IS NOT NULL AND "last_error" <> 'The endpoint was deleted';
