import { createHash, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createRootCa,
  createServerIdentity,
  type ParsedCertificate,
  parseCertificate,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyToSpki,
} from '@palisade/firmware-protocol';
import { ConflictError, NotFoundError } from '@palisade/shared';

/**
 * The gateway's own identity, kept in `<dataDir>/pki/`: a local CA, and a P-256 server key with a certificate
 * issued by it. The server key serves the MQTTS listener and signs the EARs (ES256) [FP-8.3-1]; relying parties
 * pin the CA or the key's `kid`. Private keys are written with mode 0600.
 */
export interface GatewayIdentity {
  dir: string;
  caCertPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Names the EAR signing key: `gw-` and the first 16 hex digits of SHA-256 over its SPKI. */
  kid: string;
  server: ParsedCertificate;
  ca: ParsedCertificate;
}

const FILES = {
  caCert: 'ca.pem',
  caKey: 'ca.key.pem',
  serverCert: 'server.pem',
  serverKey: 'server.key.pem',
} as const;

export function pkiDir(dataDir: string): string {
  return join(resolve(dataDir), 'pki');
}

export function keyId(publicKey: KeyObject): string {
  return `gw-${createHash('sha256').update(publicKeyToSpki(publicKey)).digest('hex').slice(0, 16)}`;
}

/** Loads the identity from the data dir; `not_found.gateway_identity` when `pki init` has not run. */
export function loadGatewayIdentity(dataDir: string): GatewayIdentity {
  const dir = pkiDir(dataDir);
  const path = (f: string) => join(dir, f);
  if (!existsSync(path(FILES.serverKey)) || !existsSync(path(FILES.serverCert))) {
    throw new NotFoundError(
      'not_found.gateway_identity',
      `no gateway key in ${dir}; run \`palisade-gateway pki init\``,
    );
  }
  const serverKeyPem = readFileSync(path(FILES.serverKey), 'utf8');
  const serverCertPem = readFileSync(path(FILES.serverCert), 'utf8');
  const caCertPem = readFileSync(path(FILES.caCert), 'utf8');
  const keys = privateKeyFromPem(serverKeyPem);
  return {
    dir,
    caCertPem,
    serverCertPem,
    serverKeyPem,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    kid: keyId(keys.publicKey),
    server: parseCertificate(serverCertPem),
    ca: parseCertificate(caCertPem),
  };
}

export interface InitIdentityOptions {
  gatewayId: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Replace an existing identity (a new key: devices pinning the old one must be told). */
  force?: boolean;
  now?: Date;
}

/** Creates the local CA and server identity; `conflict.gateway_identity_exists` unless `force`. */
export async function initGatewayIdentity(dataDir: string, opts: InitIdentityOptions): Promise<GatewayIdentity> {
  const dir = pkiDir(dataDir);
  if (!opts.force && existsSync(join(dir, FILES.serverKey))) {
    throw new ConflictError('conflict.gateway_identity_exists', `a gateway key already exists in ${dir}`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const validity = opts.now === undefined ? {} : { now: opts.now };
  const ca = await createRootCa({
    commonName: `${opts.gatewayId} Local CA`,
    organization: 'Palisade Gateway',
    ...validity,
  });
  const server = await createServerIdentity(ca, {
    commonName: opts.gatewayId,
    dnsNames: opts.dnsNames ?? ['localhost'],
    ipAddresses: opts.ipAddresses ?? ['127.0.0.1', '::1'],
    ...validity,
  });
  const writeSecret = (f: string, text: string) => {
    writeFileSync(join(dir, f), text, { mode: 0o600 });
    chmodSync(join(dir, f), 0o600);
  };
  writeSecret(FILES.caKey, privateKeyToPem(ca.privateKey));
  writeSecret(FILES.serverKey, privateKeyToPem(server.privateKey));
  writeFileSync(join(dir, FILES.caCert), ca.certificate.pem);
  writeFileSync(join(dir, FILES.serverCert), server.certificate.pem);
  return loadGatewayIdentity(dataDir);
}

/** Loads the identity, creating it on first start. */
export async function ensureGatewayIdentity(dataDir: string, opts: InitIdentityOptions): Promise<GatewayIdentity> {
  try {
    return loadGatewayIdentity(dataDir);
  } catch (e) {
    if (e instanceof NotFoundError) return initGatewayIdentity(dataDir, { ...opts, force: false });
    throw e;
  }
}
