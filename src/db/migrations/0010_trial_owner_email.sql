ALTER TABLE "trials" ALTER COLUMN "owner_user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "trials" ADD COLUMN "owner_email" text;--> statement-breakpoint
UPDATE "trials" SET "owner_email" = lower("users"."email") FROM "users" WHERE "users"."id" = "trials"."owner_user_id";--> statement-breakpoint
CREATE UNIQUE INDEX "trials_owner_email_key" ON "trials" USING btree ("owner_email");