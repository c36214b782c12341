import { type ChainReason, MAX_INTERMEDIATES, verifyChain } from './validator.js';

/**
 * `palisade-gateway pki verify-chain`: JSON on stdin, JSON on stdout (issue 3 §CLI).
 *
 * Input:  `{"leaf": PEM, "intermediates": [PEM], "roots": [PEM], "time": ISO, "crls": [PEM],
 *           "max_chain_depth"?: n, "extended_key_usage"?: [OID]}`
 * Output: `{"valid": bool, "reason": string, "chain": [subject…]}`
 * Exit:   0 valid, 1 invalid, 2 unusable input (bad JSON, missing or mistyped fields, unparsable PEM).
 */

export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

export type InputReason = 'validation.json' | 'validation.field';

export interface VerifyChainCommandResult {
  exitCode: 0 | 1 | 2;
  output: { valid: boolean; reason: ChainReason | InputReason; chain: string[] };
}

const OID = /^[0-2](\.(0|[1-9][0-9]{0,9})){1,31}$/;
const KNOWN_KEYS = new Set(['leaf', 'intermediates', 'roots', 'time', 'crls', 'max_chain_depth', 'extended_key_usage']);

function unusable(reason: ChainReason | InputReason): VerifyChainCommandResult {
  return { exitCode: 2, output: { valid: false, reason, chain: [] } };
}

function stringArray(v: unknown, max: number): string[] | null {
  if (!Array.isArray(v) || v.length > max) return null;
  return v.every((s) => typeof s === 'string') ? (v as string[]) : null;
}

export async function runVerifyChain(stdinJson: string): Promise<VerifyChainCommandResult> {
  if (stdinJson.length > MAX_STDIN_BYTES) return unusable('validation.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdinJson);
  } catch {
    return unusable('validation.json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return unusable('validation.json');
  const o = parsed as Record<string, unknown>;
  if (Object.keys(o).some((k) => !KNOWN_KEYS.has(k))) return unusable('validation.field');

  if (typeof o.leaf !== 'string') return unusable('validation.field');
  const roots = stringArray(o.roots, 1024);
  if (roots === null || roots.length === 0) return unusable('validation.field');
  // Bundles are split by the validator, which refuses more than MAX_INTERMEDIATES certificates as pki.path_budget.
  const intermediates = o.intermediates === undefined ? [] : stringArray(o.intermediates, 1024);
  const crls = o.crls === undefined ? [] : stringArray(o.crls, 1024);
  if (intermediates === null || crls === null) return unusable('validation.field');

  let time: Date | undefined;
  if (o.time !== undefined) {
    // ISO 8601 with a date and a time; Date.parse alone accepts too much ("1", "March 7").
    if (typeof o.time !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(o.time)) {
      return unusable('validation.field');
    }
    time = new Date(o.time);
    if (Number.isNaN(time.getTime())) return unusable('validation.field');
  }
  let maxChainDepth: number | undefined;
  if (o.max_chain_depth !== undefined) {
    const d = o.max_chain_depth;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0 || d > MAX_INTERMEDIATES) {
      return unusable('validation.field');
    }
    maxChainDepth = d;
  }
  let extendedKeyUsage: string[] | undefined;
  if (o.extended_key_usage !== undefined) {
    const eku = stringArray(o.extended_key_usage, 32);
    if (eku === null || !eku.every((s) => OID.test(s))) return unusable('validation.field');
    extendedKeyUsage = eku;
  }

  const r = await verifyChain({
    leaf: o.leaf,
    intermediates,
    roots,
    crls,
    ...(time === undefined ? {} : { time }),
    ...(maxChainDepth === undefined ? {} : { maxChainDepth }),
    ...(extendedKeyUsage === undefined ? {} : { extendedKeyUsage }),
  });
  if (r.reason === 'pki.malformed') return unusable('pki.malformed');
  return { exitCode: r.valid ? 0 : 1, output: { valid: r.valid, reason: r.reason, chain: r.chain } };
}
