CREATE TABLE `telemetry_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`rolled_up_to` integer NOT NULL,
	CONSTRAINT "telemetry_state_single_row" CHECK("telemetry_state"."id" = 1)
);
--> statement-breakpoint
DROP INDEX `telemetry_raw_device_idx`;