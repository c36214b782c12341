CREATE TABLE "alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"site_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"source_alert_id" text,
	"device_id" text,
	"type" text NOT NULL,
	"severity" text NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"firmware_measurement" text,
	"techniques" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"content_hash" text NOT NULL,
	"count" integer DEFAULT 1 NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "alerts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_alerts" (
	"org_id" text NOT NULL,
	"alert_id" text NOT NULL,
	"case_id" text NOT NULL,
	"strategy" text NOT NULL,
	"score" real NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"linked_at" timestamp with time zone NOT NULL,
	CONSTRAINT "case_alerts_org_id_alert_id_pk" PRIMARY KEY("org_id","alert_id")
);
--> statement-breakpoint
ALTER TABLE "case_alerts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_approvals" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"case_id" text NOT NULL,
	"action" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"status" text NOT NULL,
	"requested_by" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"decision_note" text
);
--> statement-breakpoint
ALTER TABLE "case_approvals" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_comments" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"case_id" text NOT NULL,
	"author_kind" text NOT NULL,
	"author_id" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "case_comments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_iocs" (
	"org_id" text NOT NULL,
	"case_id" text NOT NULL,
	"ioc_id" text NOT NULL,
	"note" text,
	"added_by" text NOT NULL,
	"added_at" timestamp with time zone NOT NULL,
	CONSTRAINT "case_iocs_org_id_case_id_ioc_id_pk" PRIMARY KEY("org_id","case_id","ioc_id")
);
--> statement-breakpoint
ALTER TABLE "case_iocs" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_settings" (
	"org_id" text PRIMARY KEY NOT NULL,
	"sla" jsonb NOT NULL,
	"approval_ttl_minutes" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"updated_by" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "case_settings" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "case_timeline" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"case_id" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" text NOT NULL,
	"action" text NOT NULL,
	"before" jsonb,
	"after" jsonb
);
--> statement-breakpoint
ALTER TABLE "case_timeline" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "cases" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"state" text NOT NULL,
	"severity" text NOT NULL,
	"assignee_id" text,
	"techniques" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"alert_count" integer DEFAULT 0 NOT NULL,
	"first_event_at" timestamp with time zone,
	"last_event_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"acknowledged_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"merged_into_id" text,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "cases" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "iocs" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"type" text NOT NULL,
	"value" text NOT NULL,
	"first_seen_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "iocs" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "cloud_ca" (
	"id" text PRIMARY KEY NOT NULL,
	"cert_pem" text NOT NULL,
	"key_pem" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "enrollment_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"site_id" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"gateway_id" text,
	CONSTRAINT "enrollment_tokens_secret_hash_unique" UNIQUE("secret_hash")
);
--> statement-breakpoint
ALTER TABLE "enrollment_tokens" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "gateways" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"site_id" text NOT NULL,
	"name" text NOT NULL,
	"cert_pem" text NOT NULL,
	"cert_serial" text NOT NULL,
	"public_key_spki" text NOT NULL,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_seen_at" timestamp with time zone,
	"acked_seq" integer DEFAULT 0 NOT NULL,
	"sync_lag_ms" integer,
	"clock_skew_ms" integer,
	CONSTRAINT "gateways_cert_serial_unique" UNIQUE("cert_serial")
);
--> statement-breakpoint
ALTER TABLE "gateways" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "request_nonces" (
	"gateway_id" text NOT NULL,
	"nonce" text NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "attestation_results" (
	"org_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"jti" text NOT NULL,
	"site_id" text NOT NULL,
	"device_id" text NOT NULL,
	"status" text NOT NULL,
	"reasons" jsonb NOT NULL,
	"claims" jsonb NOT NULL,
	"jwt" text NOT NULL,
	"appraised_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attestation_results_gateway_id_jti_pk" PRIMARY KEY("gateway_id","jti")
);
--> statement-breakpoint
ALTER TABLE "attestation_results" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "devices" (
	"org_id" text NOT NULL,
	"id" text NOT NULL,
	"site_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"board_family" text NOT NULL,
	"firmware_version" text,
	"firmware_measurement" text,
	"cert_serial" text,
	"attestation_status" text DEFAULT 'none' NOT NULL,
	"quarantined" boolean DEFAULT false NOT NULL,
	"risk_score" real DEFAULT 0 NOT NULL,
	"last_seen_at" timestamp with time zone,
	"last_attested_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "devices_org_id_id_pk" PRIMARY KEY("org_id","id")
);
--> statement-breakpoint
ALTER TABLE "devices" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "telemetry_rollups" (
	"org_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"device_id" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_seconds" integer NOT NULL,
	"messages" bigint NOT NULL,
	"bytes" bigint NOT NULL,
	"rejected" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "telemetry_rollups_gateway_id_device_id_period_start_pk" PRIMARY KEY("gateway_id","device_id","period_start")
);
--> statement-breakpoint
ALTER TABLE "telemetry_rollups" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "raw_alerts" (
	"org_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"alert_id" text NOT NULL,
	"seq" integer NOT NULL,
	"body" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "raw_alerts_gateway_id_alert_id_pk" PRIMARY KEY("gateway_id","alert_id")
);
--> statement-breakpoint
ALTER TABLE "raw_alerts" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sync_batches" (
	"org_id" text NOT NULL,
	"gateway_id" text NOT NULL,
	"seq" integer NOT NULL,
	"body_hash" text NOT NULL,
	"counts" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_batches_gateway_id_seq_pk" PRIMARY KEY("gateway_id","seq")
);
--> statement-breakpoint
ALTER TABLE "sync_batches" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "api_keys" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" text NOT NULL,
	"action" text NOT NULL,
	"target_type" text NOT NULL,
	"target_id" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"source_ip" text,
	"user_agent" text
);
--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "organizations" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "organizations_name_unique" UNIQUE("name")
);
--> statement-breakpoint
ALTER TABLE "organizations" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sessions" (
	"id_hash" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"user_id" text NOT NULL,
	"csrf_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sessions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sites" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sites" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"email" text NOT NULL,
	"role" text NOT NULL,
	"password_hash" text NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
ALTER TABLE "users" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "alerts" ADD CONSTRAINT "alerts_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_alerts" ADD CONSTRAINT "case_alerts_alert_id_alerts_id_fk" FOREIGN KEY ("alert_id") REFERENCES "public"."alerts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_alerts" ADD CONSTRAINT "case_alerts_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_approvals" ADD CONSTRAINT "case_approvals_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_comments" ADD CONSTRAINT "case_comments_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_iocs" ADD CONSTRAINT "case_iocs_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_iocs" ADD CONSTRAINT "case_iocs_ioc_id_iocs_id_fk" FOREIGN KEY ("ioc_id") REFERENCES "public"."iocs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_settings" ADD CONSTRAINT "case_settings_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "case_timeline" ADD CONSTRAINT "case_timeline_case_id_cases_id_fk" FOREIGN KEY ("case_id") REFERENCES "public"."cases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cases" ADD CONSTRAINT "cases_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "iocs" ADD CONSTRAINT "iocs_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "enrollment_tokens_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "enrollment_tokens" ADD CONSTRAINT "enrollment_tokens_site_id_sites_id_fk" FOREIGN KEY ("site_id") REFERENCES "public"."sites"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gateways" ADD CONSTRAINT "gateways_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gateways" ADD CONSTRAINT "gateways_site_id_sites_id_fk" FOREIGN KEY ("site_id") REFERENCES "public"."sites"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sites" ADD CONSTRAINT "sites_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_org_content_hash" ON "alerts" USING btree ("org_id","content_hash");--> statement-breakpoint
CREATE INDEX "alerts_org_occurred" ON "alerts" USING btree ("org_id","occurred_at");--> statement-breakpoint
CREATE INDEX "alerts_org_device" ON "alerts" USING btree ("org_id","device_id");--> statement-breakpoint
CREATE INDEX "alerts_org_measurement" ON "alerts" USING btree ("org_id","firmware_measurement");--> statement-breakpoint
CREATE INDEX "case_alerts_case" ON "case_alerts" USING btree ("org_id","case_id");--> statement-breakpoint
CREATE INDEX "case_approvals_case" ON "case_approvals" USING btree ("org_id","case_id");--> statement-breakpoint
CREATE INDEX "case_comments_case" ON "case_comments" USING btree ("org_id","case_id");--> statement-breakpoint
CREATE INDEX "case_timeline_case" ON "case_timeline" USING btree ("org_id","case_id","at");--> statement-breakpoint
CREATE INDEX "cases_org_state" ON "cases" USING btree ("org_id","state");--> statement-breakpoint
CREATE UNIQUE INDEX "iocs_org_type_value" ON "iocs" USING btree ("org_id","type","value");--> statement-breakpoint
CREATE INDEX "gateways_org_site" ON "gateways" USING btree ("org_id","site_id");--> statement-breakpoint
CREATE UNIQUE INDEX "request_nonces_pk" ON "request_nonces" USING btree ("gateway_id","nonce");--> statement-breakpoint
CREATE INDEX "request_nonces_seen" ON "request_nonces" USING btree ("seen_at");--> statement-breakpoint
CREATE INDEX "attestation_results_device" ON "attestation_results" USING btree ("org_id","device_id","appraised_at");--> statement-breakpoint
CREATE INDEX "devices_org_site" ON "devices" USING btree ("org_id","site_id");--> statement-breakpoint
CREATE INDEX "devices_org_measurement" ON "devices" USING btree ("org_id","firmware_measurement");--> statement-breakpoint
CREATE INDEX "audit_log_org_at" ON "audit_log" USING btree ("org_id","at");--> statement-breakpoint
CREATE UNIQUE INDEX "sites_org_name" ON "sites" USING btree ("org_id","name");--> statement-breakpoint
CREATE POLICY "alerts_tenant_isolation" ON "alerts" AS PERMISSIVE FOR ALL TO public USING ("alerts"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("alerts"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_alerts_tenant_isolation" ON "case_alerts" AS PERMISSIVE FOR ALL TO public USING ("case_alerts"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_alerts"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_approvals_tenant_isolation" ON "case_approvals" AS PERMISSIVE FOR ALL TO public USING ("case_approvals"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_approvals"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_comments_tenant_isolation" ON "case_comments" AS PERMISSIVE FOR ALL TO public USING ("case_comments"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_comments"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_iocs_tenant_isolation" ON "case_iocs" AS PERMISSIVE FOR ALL TO public USING ("case_iocs"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_iocs"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_settings_tenant_isolation" ON "case_settings" AS PERMISSIVE FOR ALL TO public USING ("case_settings"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_settings"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "case_timeline_tenant_isolation" ON "case_timeline" AS PERMISSIVE FOR ALL TO public USING ("case_timeline"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("case_timeline"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "cases_tenant_isolation" ON "cases" AS PERMISSIVE FOR ALL TO public USING ("cases"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("cases"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "iocs_tenant_isolation" ON "iocs" AS PERMISSIVE FOR ALL TO public USING ("iocs"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("iocs"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "enrollment_tokens_tenant_isolation" ON "enrollment_tokens" AS PERMISSIVE FOR ALL TO public USING ("enrollment_tokens"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("enrollment_tokens"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "gateways_tenant_isolation" ON "gateways" AS PERMISSIVE FOR ALL TO public USING ("gateways"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("gateways"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "attestation_results_tenant_isolation" ON "attestation_results" AS PERMISSIVE FOR ALL TO public USING ("attestation_results"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("attestation_results"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "devices_tenant_isolation" ON "devices" AS PERMISSIVE FOR ALL TO public USING ("devices"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("devices"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "telemetry_rollups_tenant_isolation" ON "telemetry_rollups" AS PERMISSIVE FOR ALL TO public USING ("telemetry_rollups"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("telemetry_rollups"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "raw_alerts_tenant_isolation" ON "raw_alerts" AS PERMISSIVE FOR ALL TO public USING ("raw_alerts"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("raw_alerts"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "sync_batches_tenant_isolation" ON "sync_batches" AS PERMISSIVE FOR ALL TO public USING ("sync_batches"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("sync_batches"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "api_keys_tenant_isolation" ON "api_keys" AS PERMISSIVE FOR ALL TO public USING ("api_keys"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("api_keys"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "audit_log_tenant_isolation" ON "audit_log" AS PERMISSIVE FOR ALL TO public USING ("audit_log"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("audit_log"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "organizations_tenant_isolation" ON "organizations" AS PERMISSIVE FOR ALL TO public USING ("organizations"."id" = current_setting('app.org_id', true)) WITH CHECK ("organizations"."id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "sessions_tenant_isolation" ON "sessions" AS PERMISSIVE FOR ALL TO public USING ("sessions"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("sessions"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "sites_tenant_isolation" ON "sites" AS PERMISSIVE FOR ALL TO public USING ("sites"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("sites"."org_id" = current_setting('app.org_id', true));--> statement-breakpoint
CREATE POLICY "users_tenant_isolation" ON "users" AS PERMISSIVE FOR ALL TO public USING ("users"."org_id" = current_setting('app.org_id', true)) WITH CHECK ("users"."org_id" = current_setting('app.org_id', true));