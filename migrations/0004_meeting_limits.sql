CREATE TABLE "meeting_settings" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"meetings_per_user_per_day" integer DEFAULT 20 NOT NULL,
	"daily_spend_usd_per_user" double precision DEFAULT 5 NOT NULL,
	"default_meeting_budget_usd" double precision DEFAULT 1 NOT NULL,
	"max_meeting_budget_usd" double precision DEFAULT 10 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "meetings_created_by_idx" ON "meetings" USING btree ("created_by","created_at");