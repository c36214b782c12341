CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`dedup_key` text NOT NULL,
	`type` text NOT NULL,
	`severity` text NOT NULL,
	`device_id` text,
	`count` integer DEFAULT 1 NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`details` text NOT NULL,
	`state` text DEFAULT 'open' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `alerts_open_dedup_key_idx` ON `alerts` (`dedup_key`) WHERE "alerts"."state" <> 'closed';--> statement-breakpoint
CREATE INDEX `alerts_device_idx` ON `alerts` (`device_id`);--> statement-breakpoint
CREATE TABLE `attestation_results` (
	`id` text PRIMARY KEY NOT NULL,
	`device_id` text NOT NULL,
	`status` text NOT NULL,
	`reasons` text NOT NULL,
	`jwt` text,
	`nonce` text,
	`evidence_digest` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`device_id`) REFERENCES `devices`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `attestation_results_device_idx` ON `attestation_results` (`device_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `attestation_results_nonce_idx` ON `attestation_results` (`device_id`,`nonce`);--> statement-breakpoint
CREATE TABLE `audit` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`device_id` text,
	`details` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_device_idx` ON `audit` (`device_id`,`at`);--> statement-breakpoint
CREATE TABLE `credentials` (
	`device_id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`family` text,
	`enrollment` text DEFAULT 'pending' NOT NULL,
	`enrolled_via` text NOT NULL,
	`quarantined` integer DEFAULT false NOT NULL,
	`quarantine_reason` text,
	`quarantined_by` text,
	`quarantined_at` integer,
	`cert_serial` text,
	`cert_subject` text,
	`cert_not_after` integer,
	`cert_fingerprint` text,
	`ueid` text,
	`attestation_key` text,
	`firmware_version` text,
	`measurement` text,
	`last_boot_count` integer,
	`boot_seed` text,
	`reboots` integer DEFAULT 0 NOT NULL,
	`last_seen` integer,
	`last_status` text,
	`last_result_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `devices_enrollment_idx` ON `devices` (`enrollment`);--> statement-breakpoint
CREATE INDEX `devices_cert_not_after_idx` ON `devices` (`cert_not_after`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`kind` text NOT NULL,
	`entity_id` text NOT NULL,
	`payload` text NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `outbox_pending_idx` ON `outbox` (`sent_at`,`id`);--> statement-breakpoint
CREATE TABLE `reference_values` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`family` text NOT NULL,
	`firmware_version` text NOT NULL,
	`implementation_id` text DEFAULT '' NOT NULL,
	`entry` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reference_values_key_idx` ON `reference_values` (`family`,`firmware_version`,`implementation_id`);--> statement-breakpoint
CREATE TABLE `telemetry_raw` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`device_id` text NOT NULL,
	`ts` integer NOT NULL,
	`seq` integer NOT NULL,
	`metric` text NOT NULL,
	`value` real NOT NULL
);
--> statement-breakpoint
CREATE INDEX `telemetry_raw_ts_idx` ON `telemetry_raw` (`ts`);--> statement-breakpoint
CREATE INDEX `telemetry_raw_device_idx` ON `telemetry_raw` (`device_id`,`metric`,`ts`);--> statement-breakpoint
CREATE TABLE `telemetry_rollups` (
	`device_id` text NOT NULL,
	`metric` text NOT NULL,
	`resolution` text NOT NULL,
	`bucket_start` integer NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`sum` real NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`device_id`, `metric`, `resolution`, `bucket_start`)
);
--> statement-breakpoint
CREATE INDEX `telemetry_rollups_bucket_idx` ON `telemetry_rollups` (`resolution`,`bucket_start`);--> statement-breakpoint
CREATE TABLE `used_nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`device_id` text NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `used_nonces_expires_idx` ON `used_nonces` (`expires_at`);--> statement-breakpoint
CREATE TABLE `sync_commands` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`issued_by` text NOT NULL,
	`body` text NOT NULL,
	`outcome` text NOT NULL,
	`detail` text,
	`decided_at` integer NOT NULL,
	`acked_at` integer
);
--> statement-breakpoint
CREATE TABLE `sync_dead_letters` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`outbox_id` integer NOT NULL,
	`kind` text NOT NULL,
	`entity_id` text NOT NULL,
	`payload` text NOT NULL,
	`reason` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sync_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`acked_seq` integer DEFAULT 0 NOT NULL,
	`next_seq` integer DEFAULT 1 NOT NULL,
	`inflight_seq` integer,
	`inflight_last_id` integer,
	`inflight_records` integer,
	`inflight_body` blob,
	`dead_letters` integer DEFAULT 0 NOT NULL,
	`thinned` integer DEFAULT 0 NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "sync_state_single_row" CHECK("sync_state"."id" = 1)
);
