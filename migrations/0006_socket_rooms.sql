CREATE TABLE "socket_rooms" (
	"user_id" uuid NOT NULL,
	"family_id" text NOT NULL,
	"kind" text NOT NULL,
	"room_id" uuid NOT NULL,
	"team_id" uuid,
	"connected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "socket_rooms_user_id_kind_room_id_family_id_pk" PRIMARY KEY("user_id","kind","room_id","family_id"),
	CONSTRAINT "socket_rooms_kind_check" CHECK ("socket_rooms"."kind" in ('team', 'meeting', 'desktop'))
);
--> statement-breakpoint
ALTER TABLE "socket_rooms" ADD CONSTRAINT "socket_rooms_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "socket_rooms_team_idx" ON "socket_rooms" USING btree ("team_id");