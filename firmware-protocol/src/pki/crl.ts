import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { ProtocolError } from '../errors.js';
import type { CertificateAuthority } from './certificates.js';
import { publicKeyToSpki, signingAlgorithmFor, toSigningCryptoKey } from './keys.js';
import { CRL_NUMBER_OID, encodeSmallDerInteger, type ParsedCrl, parseCrl } from './parse.js';

/**
 * Certificate revocation lists (RFC 5280 §5), signed by the CA that issued the revoked certificates (the
 * intermediate, for device certificates). The gateway's appraisal refuses a device whose serial is listed.
 */

export interface RevokedEntry {
  /** Hex serial of the revoked certificate. */
  serial: string;
  revokedAt?: Date;
}

export interface CrlOptions {
  revoked: readonly RevokedEntry[];
  /** Default: now. */
  thisUpdate?: Date;
  /** Default: thisUpdate + 7 days. */
  nextUpdate?: Date;
  /** Monotonic CRL number (RFC 5280 §5.2.3); relying parties keep the highest they have seen. */
  crlNumber?: number;
}

const WEEK_MS = 7 * 86_400_000;

export async function createCrl(issuer: CertificateAuthority, opts: CrlOptions): Promise<ParsedCrl> {
  const thisUpdate = opts.thisUpdate ?? new Date();
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + WEEK_MS);
  for (const r of opts.revoked) {
    if (!/^[0-9a-f]{1,40}$/i.test(r.serial)) throw new ProtocolError('pki.malformed', 'revoked serial must be hex');
  }
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.certificate.subject,
    thisUpdate,
    nextUpdate,
    signingKey: await toSigningCryptoKey(issuer.privateKey),
    signingAlgorithm: signingAlgorithmFor(issuer.privateKey),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(publicKeyToSpki(issuer.publicKey)),
      new x509.Extension(CRL_NUMBER_OID, false, encodeSmallDerInteger(opts.crlNumber ?? 1)),
    ],
    entries: opts.revoked.map((r) => ({
      serialNumber: r.serial.length % 2 === 0 ? r.serial : `0${r.serial}`,
      revocationDate: r.revokedAt ?? thisUpdate,
      reason: x509.X509CrlReason.keyCompromise,
    })),
  });
  return parseCrl(new Uint8Array(crl.rawData));
}
