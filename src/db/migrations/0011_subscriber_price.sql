ALTER TABLE "subscriptions" ADD COLUMN "price_cents" integer;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "currency" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "interval" text;--> statement-breakpoint
UPDATE "subscriptions" SET "price_cents" = "plans"."price_cents", "currency" = "plans"."currency", "interval" = "plans"."interval" FROM "plans" WHERE "plans"."id" = "subscriptions"."plan_id";--> statement-breakpoint
ALTER TABLE "subscriptions" ALTER COLUMN "price_cents" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ALTER COLUMN "currency" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ALTER COLUMN "interval" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "subscription_events" ADD COLUMN "price_cents" integer;--> statement-breakpoint
ALTER TABLE "subscription_events" ADD COLUMN "currency" text;--> statement-breakpoint
ALTER TABLE "subscription_events" ADD COLUMN "interval" text;--> statement-breakpoint
UPDATE "subscription_events" SET "price_cents" = "plans"."price_cents", "currency" = "plans"."currency", "interval" = "plans"."interval" FROM "subscriptions", "plans" WHERE "subscriptions"."id" = "subscription_events"."subscription_id" AND "plans"."id" = coalesce("subscription_events"."to_plan_id", "subscriptions"."plan_id");--> statement-breakpoint
ALTER TABLE "subscription_events" ALTER COLUMN "price_cents" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "subscription_events" ALTER COLUMN "currency" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "subscription_events" ALTER COLUMN "interval" SET NOT NULL;
