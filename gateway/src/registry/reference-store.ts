import type { Clock } from '@palisade/shared';
import { sql } from 'drizzle-orm';
import { type ReferenceEntry, ReferenceValues } from '../attestation/reference-values.js';
import { recordAudit } from '../store/journal.js';
import type { Db } from '../store/open-store.js';
import { referenceValues } from '../store/schema.js';

/** Reference values in SQLite: imported by the CLI or the panel, loaded by the appraisal at start and on change. */
export class ReferenceStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  /**
   * Validates a `refvals` document (JSON text or parsed) and stores its entries, replacing stored entries with the
   * same family, version and implementation id. All or nothing: one bad entry refuses the whole import.
   */
  import(input: unknown, actor: string): { imported: number; total: number } {
    const doc = input instanceof ReferenceValues ? input : ReferenceValues.parse(input);
    const now = this.clock.now();
    this.db.transaction((tx) => {
      for (const e of doc.document.entries) {
        const row = {
          family: e.boardFamily,
          firmwareVersion: e.firmwareVersion,
          implementationId: e.implementationId ?? '',
          entry: JSON.stringify(e),
          createdAt: now,
        };
        tx.insert(referenceValues)
          .values(row)
          .onConflictDoUpdate({
            target: [referenceValues.family, referenceValues.firmwareVersion, referenceValues.implementationId],
            set: { entry: row.entry, createdAt: now },
          })
          .run();
      }
      recordAudit(tx, { at: now, actor, action: 'refvals.import', details: { entries: doc.size } });
    });
    return { imported: doc.size, total: this.count() };
  }

  load(): ReferenceValues {
    const rows = this.db.select({ entry: referenceValues.entry }).from(referenceValues).all();
    return ReferenceValues.parse({ version: 1, entries: rows.map((r) => JSON.parse(r.entry) as ReferenceEntry) });
  }

  /** The stored set in the import format, sorted so exports diff cleanly. */
  export(): string {
    return this.load().export();
  }

  count(): number {
    return this.db.select({ n: sql<number>`count(*)` }).from(referenceValues).get()?.n ?? 0;
  }
}
