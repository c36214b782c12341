CREATE TABLE "command_deliveries" (
	"org_id" text NOT NULL,
	"command_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"device_ids" jsonb NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"delivered_at" timestamp with time zone,
	"acked_at" timestamp with time zone,
	"detail" text,
	CONSTRAINT "command_deliveries_command_id_gateway_id_pk" PRIMARY KEY("command_id","gateway_id")
);
--> statement-breakpoint
ALTER TABLE "command_deliveries" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "commands" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"type" text NOT NULL,
	"target" jsonb NOT NULL,
	"args" jsonb NOT NULL,
	"issued_by" text NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "commands" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "command_deliveries" ADD CONSTRAINT "command_deliveries_command_id_commands_id_fk" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "command_deliveries_gateway_state" ON "command_deliveries" USING btree ("gateway_id","state");--> statement-breakpoint
CREATE INDEX "commands_org_issued" ON "commands" USING btree ("org_id","issued_at");--> statement-breakpoint
CREATE POLICY "command_deliveries_tenant_isolation" ON "command_deliveries" AS PERMISSIVE FOR ALL TO public USING ("command_deliveries"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("command_deliveries"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "commands_tenant_isolation" ON "commands" AS PERMISSIVE FOR ALL TO public USING ("commands"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("commands"."org_id" = current_setting('app.org_id', true));