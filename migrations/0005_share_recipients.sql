CREATE TABLE "desktop_share_recipients" (
	"share_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	CONSTRAINT "desktop_share_recipients_share_id_user_id_pk" PRIMARY KEY("share_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "desktop_shares" DROP CONSTRAINT "desktop_shares_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "desktop_share_recipients" ADD CONSTRAINT "desktop_share_recipients_share_id_desktop_shares_id_fk" FOREIGN KEY ("share_id") REFERENCES "public"."desktop_shares"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_share_recipients" ADD CONSTRAINT "desktop_share_recipients_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_shares" DROP COLUMN "user_id";