/**
 * Text similarity for correlation: Jaccard index over word trigrams (as pg_trgm builds them) of a normalised text.
 * Normalisation folds case and replaces numbers and long hex strings with placeholders, so "device d-17 failed
 * attestation" and "device d-42 failed attestation" read as the same kind of event.
 */
export function normaliseText(s: string): string {
  return s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\b[0-9a-f]{8,}\b/g, ' hex ')
    .replace(/\d+/g, '0')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

export function trigrams(s: string): Set<string> {
  const out = new Set<string>();
  for (const word of normaliseText(s).split(' ')) {
    if (word === '') continue;
    const padded = `  ${word} `;
    for (let i = 0; i + 3 <= padded.length; i++) out.add(padded.slice(i, i + 3));
  }
  return out;
}

/** |A ∩ B| / |A ∪ B| of the two texts' trigram sets; 0 when both are empty. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 0;
  let shared = 0;
  for (const g of a) if (b.has(g)) shared++;
  return shared / (a.size + b.size - shared);
}

export function textSimilarity(a: string, b: string): number {
  return jaccard(trigrams(a), trigrams(b));
}
