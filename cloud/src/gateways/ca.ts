import 'reflect-metadata';
import { createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { ValidationError } from '@palisade/shared';
import * as x509 from '@peculiar/x509';
import { eq } from 'drizzle-orm';
import { guardDatabase } from '../db/open-database.js';
import type { Db } from '../db/types.js';
import { cloudCa } from './schema.js';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_ROW_ID = 'gateway-ca';
const DAY_MS = 86_400_000;

/** What enrollment needs from the CA: sign a gateway certificate for a verified P-256 CSR. */
export interface CertificateAuthority {
  readonly certificatePem: string;
  issueGatewayCertificate(input: { csrPem: string; gatewayId: string; now: number }): Promise<IssuedCertificate>;
}

export interface IssuedCertificate {
  certificatePem: string;
  serialHex: string;
  /** SPKI (DER) of the certified key, base64url: what request signatures are verified with. */
  publicKeySpki: string;
  /** The CSR's subject common name, if any. */
  requestedName: string | undefined;
}

/**
 * The cloud's own CA for gateway certificates. Its P-256 key is created on first start and kept in the database
 * (`cloud_ca`), so every instance sharing the database issues under the same CA and certificates survive restarts.
 */
export async function loadOrCreateCa(db: Db, now: number): Promise<CertificateAuthority> {
  let [row] = await guardDatabase(() => db.select().from(cloudCa).where(eq(cloudCa.id, CA_ROW_ID)));
  if (!row) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: 'CN=Palisade Cloud Gateway CA, O=Palisade',
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 20 * 365 * DAY_MS),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
    // Two instances starting at once: the first insert wins, both then read the winner.
    await guardDatabase(() =>
      db
        .insert(cloudCa)
        .values({ id: CA_ROW_ID, certPem: cert.toString('pem'), keyPem })
        .onConflictDoNothing(),
    );
    [row] = await guardDatabase(() => db.select().from(cloudCa).where(eq(cloudCa.id, CA_ROW_ID)));
    if (!row) throw new Error('CA row missing after insert');
  }
  const caCert = new x509.X509Certificate(row.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(row.keyPem), ALG, false, [
    'sign',
  ]);
  const certificatePem = row.certPem;

  return {
    certificatePem,
    async issueGatewayCertificate({ csrPem, gatewayId, now: at }) {
      let csr: x509.Pkcs10CertificateRequest;
      try {
        csr = new x509.Pkcs10CertificateRequest(csrPem);
      } catch (e) {
        throw new ValidationError('validation.csr', 'CSR is not a PEM PKCS#10 request', { cause: e });
      }
      const spki = Buffer.from(csr.publicKey.rawData);
      const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new ValidationError('validation.csr_key', 'the CSR key must be ECDSA P-256');
      }
      // Proof of possession: the CSR is signed by the key it asks to certify.
      let signed = false;
      try {
        signed = await csr.verify();
      } catch {
        signed = false;
      }
      if (!signed) throw new ValidationError('validation.csr_signature', 'the CSR signature does not verify');
      const serialHex = randomSerial();
      const publicKey = await csr.publicKey.export(ALG, ['verify']);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serialHex,
        subject: `CN=${gatewayId}, O=Palisade gateways`,
        issuer: caCert.subject,
        notBefore: new Date(at - 60_000),
        notAfter: new Date(at + 2 * 365 * DAY_MS),
        signingAlgorithm: ALG,
        publicKey,
        signingKey: caKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
        ],
      });
      const cn = /(?:^|,\s*)CN=([^,]+)/.exec(csr.subject)?.[1]?.trim();
      return {
        certificatePem: cert.toString('pem'),
        serialHex,
        publicKeySpki: spki.toString('base64url'),
        requestedName: cn,
      };
    },
  };
}

/**
 * 16 random bytes, first byte in 0x40..0x7f: positive (RFC 5280 §4.1.2.2) and without a leading zero byte, so the
 * DER integer keeps all 16 bytes and the serial reads back exactly as stored.
 */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x3f) | 0x40;
  return b.toString('hex');
}
