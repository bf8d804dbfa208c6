CREATE TABLE "bridge_commands" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"bridge_id" uuid NOT NULL,
	"session_id" uuid,
	"action" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"result" jsonb,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bridges" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"platform" text NOT NULL,
	"region" text DEFAULT 'default' NOT NULL,
	"token_hash" text NOT NULL,
	"status" text DEFAULT 'registered' NOT NULL,
	"draining" boolean DEFAULT false NOT NULL,
	"capacity" integer DEFAULT 0 NOT NULL,
	"version" text,
	"last_heartbeat_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "desktop_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"template_id" uuid,
	"template_name" text NOT NULL,
	"bridge_id" uuid,
	"platform" text,
	"state" text DEFAULT 'requested' NOT NULL,
	"state_detail" text,
	"last_input_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "desktop_settings" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"max_concurrent_sessions" integer DEFAULT 50 NOT NULL,
	"per_user_session_limit" integer DEFAULT 2 NOT NULL,
	"idle_timeout_minutes" integer DEFAULT 30 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "desktop_shares" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"session_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" uuid NOT NULL,
	"user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "desktop_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"image" text NOT NULL,
	"cpu" real DEFAULT 1 NOT NULL,
	"memory_mb" integer DEFAULT 2048 NOT NULL,
	"runtime_class" text,
	"env" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"persistent_home" boolean DEFAULT false NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vm_image_parts" (
	"image_id" uuid NOT NULL,
	"part_number" integer NOT NULL,
	"etag" text NOT NULL,
	"size_bytes" integer NOT NULL,
	"uploaded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vm_image_parts_image_id_part_number_pk" PRIMARY KEY("image_id","part_number")
);
--> statement-breakpoint
CREATE TABLE "vm_images" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"filename" text NOT NULL,
	"size_bytes" real DEFAULT 0 NOT NULL,
	"object_key" text NOT NULL,
	"upload_id" text,
	"status" text DEFAULT 'uploading' NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "bridge_commands" ADD CONSTRAINT "bridge_commands_bridge_id_bridges_id_fk" FOREIGN KEY ("bridge_id") REFERENCES "public"."bridges"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bridge_commands" ADD CONSTRAINT "bridge_commands_session_id_desktop_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."desktop_sessions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_sessions" ADD CONSTRAINT "desktop_sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_sessions" ADD CONSTRAINT "desktop_sessions_template_id_desktop_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."desktop_templates"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_sessions" ADD CONSTRAINT "desktop_sessions_bridge_id_bridges_id_fk" FOREIGN KEY ("bridge_id") REFERENCES "public"."bridges"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_shares" ADD CONSTRAINT "desktop_shares_session_id_desktop_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."desktop_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_shares" ADD CONSTRAINT "desktop_shares_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desktop_shares" ADD CONSTRAINT "desktop_shares_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vm_image_parts" ADD CONSTRAINT "vm_image_parts_image_id_vm_images_id_fk" FOREIGN KEY ("image_id") REFERENCES "public"."vm_images"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vm_images" ADD CONSTRAINT "vm_images_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bridge_commands_bridge_idx" ON "bridge_commands" USING btree ("bridge_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "bridges_token_hash_idx" ON "bridges" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "desktop_sessions_user_idx" ON "desktop_sessions" USING btree ("user_id","state");--> statement-breakpoint
CREATE INDEX "desktop_sessions_bridge_idx" ON "desktop_sessions" USING btree ("bridge_id","state");--> statement-breakpoint
CREATE INDEX "desktop_sessions_state_idx" ON "desktop_sessions" USING btree ("state");--> statement-breakpoint
CREATE UNIQUE INDEX "desktop_shares_token_hash_idx" ON "desktop_shares" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "desktop_shares_session_idx" ON "desktop_shares" USING btree ("session_id");