import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '@palisade/shared';
import {
  type CertificateAuthority,
  createCrl,
  createIntermediateCa,
  createRootCa,
  type ParsedCrl,
  parseCertificate,
  parseCrl,
  privateKeyFromPem,
  privateKeyToPem,
} from '../pki/index.js';

/**
 * The manufacturer PKI of a simulator state directory (`<dir>/pki/`): root and intermediate certificates and keys
 * (PEM), and the intermediate's CRL, which lists the serials `palisade-sim pki revoke` revoked.
 */
export interface PkiStore {
  dir: string;
  root: CertificateAuthority;
  intermediate: CertificateAuthority;
  crl: ParsedCrl;
}

export const PKI_FILES = {
  root: 'root.pem',
  rootKey: 'root.key.pem',
  intermediate: 'intermediate.pem',
  intermediateKey: 'intermediate.key.pem',
  crl: 'intermediate.crl.pem',
} as const;

export function pkiDir(stateDir: string): string {
  return join(stateDir, 'pki');
}

/** Writes through a temporary file and a rename, so that a crash never leaves a half-written file behind. */
export function writeAtomic(path: string, data: string | Uint8Array, mode?: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
  renameSync(tmp, path);
}

/** Creates root, intermediate and an empty CRL under `<stateDir>/pki`. Refuses to overwrite an existing PKI. */
export async function initPki(stateDir: string, opts: { now?: Date } = {}): Promise<PkiStore> {
  const dir = pkiDir(stateDir);
  if (existsSync(join(dir, PKI_FILES.root))) {
    throw new ConflictError('conflict.pki_exists', `a PKI already exists in ${dir}`, { details: { dir } });
  }
  mkdirSync(dir, { recursive: true });
  const now = opts.now ?? new Date();
  const root = await createRootCa({ now });
  const intermediate = await createIntermediateCa(root, { now });
  const crl = await createCrl(intermediate, { revoked: [], thisUpdate: now, crlNumber: 1 });
  writeAtomic(join(dir, PKI_FILES.rootKey), privateKeyToPem(root.privateKey), 0o600);
  writeAtomic(join(dir, PKI_FILES.intermediateKey), privateKeyToPem(intermediate.privateKey), 0o600);
  writeAtomic(join(dir, PKI_FILES.intermediate), intermediate.certificate.pem);
  writeAtomic(join(dir, PKI_FILES.crl), crl.pem);
  // The root certificate is written last: its presence marks an initialised PKI.
  writeAtomic(join(dir, PKI_FILES.root), root.certificate.pem);
  return { dir, root, intermediate, crl };
}

function loadCa(dir: string, cert: string, key: string): CertificateAuthority {
  const parsed = parseCertificate(readFileSync(join(dir, cert), 'utf8'));
  const keys = privateKeyFromPem(readFileSync(join(dir, key), 'utf8'));
  const { pem, der, serial, subject, issuer, notBefore, notAfter } = parsed;
  return { ...keys, certificate: { pem, der, serial, subject, issuer, notBefore, notAfter } };
}

export function hasPki(stateDir: string): boolean {
  return existsSync(join(pkiDir(stateDir), PKI_FILES.root));
}

export function loadPki(stateDir: string): PkiStore {
  const dir = pkiDir(stateDir);
  if (!hasPki(stateDir)) {
    throw new NotFoundError('not_found.pki', `no PKI in ${dir}: run "palisade-sim pki init --dir ${stateDir}"`, {
      details: { dir },
    });
  }
  return {
    dir,
    root: loadCa(dir, PKI_FILES.root, PKI_FILES.rootKey),
    intermediate: loadCa(dir, PKI_FILES.intermediate, PKI_FILES.intermediateKey),
    crl: parseCrl(readFileSync(join(dir, PKI_FILES.crl))),
  };
}

/** Adds serials to the intermediate's CRL (re-signed, CRL number + 1) and persists it. */
export async function revokeSerials(pki: PkiStore, serials: readonly string[], now = new Date()): Promise<ParsedCrl> {
  const known = new Map(pki.crl.revoked.map((r) => [r.serial, r.revokedAt]));
  for (const s of serials) if (!known.has(s)) known.set(s, now);
  const crl = await createCrl(pki.intermediate, {
    revoked: [...known].map(([serial, revokedAt]) => ({ serial, revokedAt })),
    thisUpdate: now,
    crlNumber: (pki.crl.crlNumber ?? 0) + 1,
  });
  writeAtomic(join(pki.dir, PKI_FILES.crl), crl.pem);
  pki.crl = crl;
  return crl;
}
