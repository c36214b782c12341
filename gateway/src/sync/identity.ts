import 'reflect-metadata';
import { createPrivateKey, type KeyObject, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AuthError,
  ConflictError,
  ENROLL_PATH,
  enrollResponseSchema,
  errorBodySchema,
  PalisadeError,
  UnavailableError,
  ValidationError,
} from '@palisade/shared';
import * as x509 from '@peculiar/x509';
import { z } from 'zod';

x509.cryptoProvider.set(webcrypto as never);

/**
 * The gateway's cloud identity, kept in its data directory after `palisade-gateway enroll`:
 * `cloud-identity.json` (gateway id, org, site, cloud URL), `cloud-gateway-key.pem` (PKCS#8, mode 0600: it signs every
 * sync request and every attestation result the cloud will verify), `cloud-gateway-cert.pem` and `cloud-ca.pem`.
 */
export const IDENTITY_FILES = {
  identity: 'cloud-identity.json',
  key: 'cloud-gateway-key.pem',
  certificate: 'cloud-gateway-cert.pem',
  ca: 'cloud-ca.pem',
} as const;

const identityFileSchema = z.object({
  gatewayId: z.string().min(1).max(64),
  orgId: z.string(),
  siteId: z.string(),
  cloudUrl: z.url(),
  enrolledAt: z.string(),
});

export interface CloudIdentity {
  gatewayId: string;
  orgId: string;
  siteId: string;
  cloudUrl: string;
  privateKey: KeyObject;
  certificatePem: string;
  caCertificatePem: string;
}

export interface EnrollOptions {
  cloudUrl: string;
  token: string;
  dataDir: string;
  /** Human name sent in the CSR subject (the cloud defaults the gateway's name to it). */
  name?: string;
  /** Replace an existing identity (a re-enrollment); refused otherwise so a typo cannot orphan a gateway. */
  force?: boolean;
  now?: number;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** Writes a file atomically (temp + rename) with the given mode, so a crash never leaves half an identity. */
function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/**
 * Enrolls this gateway with the cloud: creates a P-256 key pair, sends a CSR with the one-time token to
 * `POST /api/v1/gateways/enroll`, and stores the key (0600), the issued certificate, the cloud CA and the gateway id.
 * The key never leaves the data directory.
 */
export async function enrollGateway(options: EnrollOptions): Promise<CloudIdentity> {
  const dataDir = resolve(options.dataDir);
  const base = new URL(options.cloudUrl);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new ValidationError('validation.cloud_url', 'the cloud URL must be http(s)');
  }
  if (!options.force && existsSync(join(dataDir, IDENTITY_FILES.identity))) {
    throw new ConflictError(
      'conflict.already_enrolled',
      `gateway already enrolled (${IDENTITY_FILES.identity} exists); pass --force to re-enroll`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${(options.name ?? 'palisade-gateway').replace(/[,=+<>#;\\"]/g, '_')}`,
    keys,
    signingAlgorithm: ALG,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');

  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(new URL(ENROLL_PATH, base), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token: options.token,
        csrPem: csr.toString('pem'),
        ...(options.name ? { name: options.name } : {}),
      }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (e) {
    throw new UnavailableError('unavailable.cloud', `cannot reach the cloud at ${base.origin}`, { cause: e });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const err = errorBodySchema.safeParse(body);
    const code = err.success ? err.data.error.code : `http_${res.status}`;
    const message = err.success ? err.data.error.message : `enrollment failed with HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403)
      throw new AuthError(`auth.enrollment_refused`, message, { details: { code } });
    throw new PalisadeError(`sync.enrollment_failed`, message, { details: { status: res.status, code } });
  }
  const parsed = enrollResponseSchema.safeParse(body);
  if (!parsed.success) throw new ValidationError('validation.enroll_response', 'the cloud answered an unexpected body');
  const r = parsed.data;
  // The issued certificate must certify the key we generated, or requests would be signed with a key the cloud
  // does not hold.
  const cert = new x509.X509Certificate(r.certificatePem);
  const ours = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  if (!Buffer.from(cert.publicKey.rawData).equals(ours)) {
    throw new ValidationError('validation.enroll_response', 'the issued certificate does not certify our key');
  }
  writeAtomic(join(dataDir, IDENTITY_FILES.key), keyPem, 0o600);
  writeAtomic(join(dataDir, IDENTITY_FILES.certificate), r.certificatePem, 0o644);
  writeAtomic(join(dataDir, IDENTITY_FILES.ca), r.caCertificatePem, 0o644);
  const identity = {
    gatewayId: r.gatewayId,
    orgId: r.orgId,
    siteId: r.siteId,
    cloudUrl: base.toString().replace(/\/$/, ''),
    enrolledAt: new Date(options.now ?? Date.now()).toISOString(),
  };
  // Written last: its presence means the enrollment is complete.
  writeAtomic(join(dataDir, IDENTITY_FILES.identity), `${JSON.stringify(identity, null, 2)}\n`, 0o644);
  return {
    ...identity,
    privateKey: createPrivateKey(keyPem),
    certificatePem: r.certificatePem,
    caCertificatePem: r.caCertificatePem,
  };
}

/** The identity stored by {@link enrollGateway}, or undefined when the gateway was never enrolled. */
export function loadCloudIdentity(dataDir: string): CloudIdentity | undefined {
  const dir = resolve(dataDir);
  const idPath = join(dir, IDENTITY_FILES.identity);
  if (!existsSync(idPath)) return undefined;
  try {
    const id = identityFileSchema.parse(JSON.parse(readFileSync(idPath, 'utf8')));
    return {
      gatewayId: id.gatewayId,
      orgId: id.orgId,
      siteId: id.siteId,
      cloudUrl: id.cloudUrl,
      privateKey: createPrivateKey(readFileSync(join(dir, IDENTITY_FILES.key), 'utf8')),
      certificatePem: readFileSync(join(dir, IDENTITY_FILES.certificate), 'utf8'),
      caCertificatePem: readFileSync(join(dir, IDENTITY_FILES.ca), 'utf8'),
    };
  } catch (e) {
    throw new ValidationError('validation.cloud_identity', `the cloud identity in ${dir} is unreadable`, { cause: e });
  }
}
