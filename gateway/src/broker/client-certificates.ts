import { createHash } from 'node:crypto';
import type { Clock } from '@palisade/shared';
import { MAX_INTERMEDIATES, type VerifyChainResult, verifyChain } from '../pki/index.js';

/** Trust material for device client certificates; replaceable at run time (revocation updates from the cloud). */
export interface ClientTrust {
  /** Manufacturer root certificates (PEM). */
  roots: string[];
  /** Intermediate CA bundle used for path building (devices may also send theirs). */
  intermediates?: string[];
  crls?: string[];
}

/**
 * Validates TLS client certificates with the gateway's RFC 5280 validator and remembers verdicts for a short time.
 * A device that reconnects (network blip, gateway restart of its peers) is then not revalidated on every
 * connection: PKI.js costs milliseconds per chain, which a reconnect storm of thousands of devices would multiply.
 * A remembered acceptance is used only inside the validity of everything it rests on — every certificate of the
 * validated path (an intermediate or root may expire before the leaf) and the CRLs checked against it — and new
 * trust material forgets all verdicts.
 */
export class ClientCertificateVerifier {
  private trust: Required<ClientTrust>;
  /** Verdicts by leaf and sent chain, usable while `from <= now < until`. */
  private readonly verdicts = new Map<string, { result: VerifyChainResult; from: number; until: number }>();

  constructor(
    trust: ClientTrust,
    private readonly extendedKeyUsage: readonly string[],
    private readonly clock: Clock,
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 20_000,
  ) {
    this.trust = { roots: trust.roots, intermediates: trust.intermediates ?? [], crls: trust.crls ?? [] };
  }

  update(trust: ClientTrust): void {
    this.trust = { roots: trust.roots, intermediates: trust.intermediates ?? [], crls: trust.crls ?? [] };
    this.verdicts.clear();
  }

  async verify(leaf: Uint8Array, peerChain: readonly Uint8Array[]): Promise<VerifyChainResult> {
    const trust = this.trust;
    // Peer-sent certificates fill what the configured bundle leaves of the validator's intermediate budget.
    const sent = peerChain.slice(0, Math.max(0, MAX_INTERMEDIATES - trust.intermediates.length));
    const h = createHash('sha256').update(leaf);
    for (const c of sent) h.update(c);
    const key = h.digest('base64');
    const now = this.clock.now();
    const known = this.verdicts.get(key);
    if (known !== undefined && known.from <= now && now < known.until) return known.result;

    const result =
      trust.roots.length === 0
        ? { valid: false, reason: 'pki.untrusted' as const, chain: [] }
        : await verifyChain({
            leaf,
            intermediates: [...trust.intermediates, ...sent],
            roots: trust.roots,
            crls: trust.crls,
            extendedKeyUsage: [...this.extendedKeyUsage],
            time: new Date(now),
          });
    // Trust material replaced while validating: do not remember a verdict made under the old one.
    if (trust !== this.trust) return result;
    // An acceptance holds only inside the path's validity span; the clock may step back (NTP, an operator), so its
    // start bounds it too. A refusal has no such span and is kept for the TTL, never past the leaf's notAfter.
    const from = result.validity?.notBefore.getTime() ?? Number.NEGATIVE_INFINITY;
    const notAfter = result.validity?.notAfter.getTime() ?? result.leaf?.notAfter.getTime() ?? now + this.ttlMs;
    if (this.verdicts.size >= this.maxEntries) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest !== undefined) this.verdicts.delete(oldest);
    }
    this.verdicts.set(key, { result, from, until: Math.min(now + this.ttlMs, notAfter) });
    return result;
  }
}
