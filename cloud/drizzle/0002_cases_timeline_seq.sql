DROP INDEX "case_timeline_case";--> statement-breakpoint
ALTER TABLE "case_timeline" ADD COLUMN "seq" bigserial NOT NULL;--> statement-breakpoint
CREATE INDEX "case_timeline_case" ON "case_timeline" USING btree ("org_id","case_id","seq");