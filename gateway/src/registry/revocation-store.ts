import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificate, parseCrl, verifyCrlSignature } from '@palisade/firmware-protocol';
import { type Clock, ValidationError } from '@palisade/shared';
import { recordAudit } from '../store/journal.js';
import type { Db } from '../store/open-store.js';

/** File in the data directory holding the CRLs the cloud sent (a JSON array of PEM strings). */
export const CLOUD_CRLS_FILE = 'cloud-crls.json';

/** The CRLs (PEM) the cloud sent and the gateway accepted; none when it never sent any. */
export function loadCloudCrls(dataDir: string): string[] {
  const file = join(dataDir, CLOUD_CRLS_FILE);
  if (!existsSync(file)) return [];
  const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * CRLs delivered by the cloud (`revocation_update` commands), kept beside the configured CRL files and used by the
 * appraisal and the broker's client-certificate check. Each CRL must parse and be signed by one of the configured
 * CAs, so a bad update cannot make every device fail validation; the whole update is refused otherwise.
 */
export class RevocationStore {
  private readonly file: string;

  constructor(
    dataDir: string,
    private readonly db: Db,
    private readonly clock: Clock,
  ) {
    this.file = join(dataDir, CLOUD_CRLS_FILE);
  }

  /** Replaces the stored CRLs after checking each against `caPems` (roots and intermediates). */
  async replace(crlPems: readonly string[], caPems: readonly string[], actor: string): Promise<void> {
    const cas = caPems.map((p) => parseCertificate(p));
    for (const [i, pem] of crlPems.entries()) {
      const crl = parseCrl(pem);
      const issuer = cas.find((c) => c.subject === crl.issuer);
      if (issuer === undefined || !(await verifyCrlSignature(crl, issuer))) {
        throw new ValidationError('validation.crl_issuer', `CRL ${i} is not signed by a configured CA`, {
          details: { issuer: crl.issuer },
        });
      }
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(crlPems), { mode: 0o600 });
    renameSync(tmp, this.file);
    recordAudit(this.db, {
      at: this.clock.now(),
      actor,
      action: 'revocations.update',
      details: { crls: crlPems.length },
    });
  }
}
