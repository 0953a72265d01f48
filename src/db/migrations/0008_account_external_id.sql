ALTER TABLE "accounts" ADD COLUMN "external_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_external_id_key" ON "accounts" USING btree ("external_id");--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_external_id_check" CHECK ("accounts"."external_id" ~ '^[!-~]{1,255}$');