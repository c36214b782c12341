import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * A small certificate factory for tests (ECDSA P-256, SHA-256), built on @peculiar/x509 so that dates, extensions
 * and signatures can be set to anything a test needs, including wrong. Private keys are exported as PKCS#8 PEM so
 * that TLS clients and OpenSSL can use them.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
  der: Uint8Array;
  keyPem: string;
  subject: string;
}

export interface IssueOptions {
  subject: string;
  issuer?: Issued;
  ca?: boolean;
  pathLen?: number;
  notBefore?: Date;
  notAfter?: Date;
  serial?: string;
  keyUsage?: number;
  eku?: string[];
  /** Key type of a fresh key pair (default P-256). */
  alg?: KeyAlg;
  /** Key pair to certify (default: fresh). */
  keys?: CryptoKeyPair;
  /** Sign with this key instead of the issuer's (a forgery). */
  signingKey?: CryptoKey;
  altNames?: string[];
  extraExtensions?: x509.Extension[];
}

let serialCounter = 0x1000;

const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export async function newKeys(alg: KeyAlg = 'P-256'): Promise<CryptoKeyPair> {
  const params =
    alg === 'Ed25519'
      ? { name: 'Ed25519' }
      : alg === 'RSA'
        ? { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
        : ALG;
  return (await webcrypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
}

type KeyAlg = 'P-256' | 'Ed25519' | 'RSA';

function signingAlgorithm(key: CryptoKey): typeof ALG | typeof RSA | { name: 'Ed25519' } {
  const name = key.algorithm.name;
  return name === 'Ed25519' ? { name: 'Ed25519' } : name === RSA.name ? RSA : ALG;
}

export async function issue(o: IssueOptions): Promise<Issued> {
  const keys = o.keys ?? (await newKeys(o.alg));
  const now = Date.now();
  const extensions: x509.Extension[] = [];
  if (o.ca) {
    extensions.push(new x509.BasicConstraintsExtension(true, o.pathLen, true));
    extensions.push(
      new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    );
  } else {
    extensions.push(new x509.BasicConstraintsExtension(false, undefined, true));
    extensions.push(new x509.KeyUsagesExtension(o.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true));
  }
  if (o.eku !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(o.eku, false));
  if (o.altNames !== undefined) {
    extensions.push(new x509.SubjectAlternativeNameExtension(o.altNames.map((v) => ({ type: 'dns', value: v }))));
  }
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (o.issuer !== undefined) {
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey));
  }
  extensions.push(...(o.extraExtensions ?? []));
  const signingKey = o.signingKey ?? o.issuer?.keys.privateKey ?? keys.privateKey;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: o.serial ?? (serialCounter++).toString(16).padStart(4, '0'),
    subject: o.subject,
    issuer: o.issuer?.cert.subject ?? o.subject,
    notBefore: o.notBefore ?? new Date(now - DAY),
    notAfter: o.notAfter ?? new Date(now + 365 * DAY),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signingAlgorithm(signingKey),
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    cert,
    keys,
    pem: `${cert.toString('pem').trimEnd()}\n`,
    der: new Uint8Array(cert.rawData),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    subject: o.subject,
  };
}

export async function crl(
  issuer: Issued,
  revokedSerials: string[],
  o: { thisUpdate?: Date; nextUpdate?: Date; signingKey?: CryptoKey } = {},
): Promise<string> {
  const now = Date.now();
  const signingKey = o.signingKey ?? issuer.keys.privateKey;
  const list = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate: o.thisUpdate ?? new Date(now - DAY),
    nextUpdate: o.nextUpdate ?? new Date(now + 7 * DAY),
    // A reason code on each entry: without one the generator writes an empty (non-DER, SIZE 1..MAX) extension list.
    entries: revokedSerials.map((serialNumber) => ({
      serialNumber,
      revocationDate: new Date(now - DAY),
      reason: x509.X509CrlReason.keyCompromise,
    })),
    signingAlgorithm: signingAlgorithm(signingKey),
    signingKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
  });
  return x509.PemConverter.encode(list.rawData, 'X509 CRL');
}

export const EKU = { clientAuth: '1.3.6.1.5.5.7.3.2', serverAuth: '1.3.6.1.5.5.7.3.1' } as const;
export const KeyUsage = x509.KeyUsageFlags;

/** A standard three-level PKI: root → intermediate → device leaf. */
export async function standardPki(deviceId = 'dev-001'): Promise<{ root: Issued; inter: Issued; leaf: Issued }> {
  const root = await issue({ subject: 'CN=Palisade Test Root, O=Palisade', ca: true });
  const inter = await issue({ subject: 'CN=Palisade Test Devices CA, O=Palisade', ca: true, issuer: root, pathLen: 0 });
  const leaf = await issue({ subject: `CN=${deviceId}, O=Palisade`, issuer: inter, eku: [EKU.clientAuth] });
  return { root, inter, leaf };
}
