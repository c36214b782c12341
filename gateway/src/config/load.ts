import { readFileSync } from 'node:fs';
import { PalisadeError } from '@palisade/shared';
import type { z } from 'zod';
import { type GatewayConfig, gatewayConfigSchema } from './schema.js';

/** Configuration that cannot be used; the message names the key and where the bad value came from. */
export class ConfigError extends PalisadeError<`config.${string}`> {
  override readonly name = 'ConfigError';
}

type OptionType = 'string' | 'int' | 'bool' | 'list';

/** The options settable by flag and by environment (issue 3: every `start` flag also by environment). */
export const CONFIG_OPTIONS: readonly { flag: string; env: string; path: readonly string[]; type: OptionType }[] = [
  { flag: 'data-dir', env: 'PALISADE_GATEWAY_DATA_DIR', path: ['dataDir'], type: 'string' },
  { flag: 'mqtt-port', env: 'PALISADE_GATEWAY_MQTT_PORT', path: ['mqtt', 'port'], type: 'int' },
  { flag: 'mqtts-port', env: 'PALISADE_GATEWAY_MQTTS_PORT', path: ['mqtts', 'port'], type: 'int' },
  { flag: 'ws-port', env: 'PALISADE_GATEWAY_WS_PORT', path: ['ws', 'port'], type: 'int' },
  { flag: 'http-port', env: 'PALISADE_GATEWAY_HTTP_PORT', path: ['http', 'port'], type: 'int' },
  { flag: 'gateway-id', env: 'PALISADE_GATEWAY_ID', path: ['gatewayId'], type: 'string' },
  { flag: 'log-level', env: 'PALISADE_GATEWAY_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
  {
    flag: 'manufacturer-root',
    env: 'PALISADE_GATEWAY_MANUFACTURER_ROOTS',
    path: ['auth', 'manufacturerRoots'],
    type: 'list',
  },
  { flag: 'allow-anonymous', env: 'PALISADE_GATEWAY_ALLOW_ANONYMOUS', path: ['auth', 'allowAnonymous'], type: 'bool' },
];

/** Env var naming the config file; the `--config` flag wins over it. */
export const CONFIG_FILE_ENV = 'PALISADE_GATEWAY_CONFIG';

export interface LoadConfigInput {
  /** Path of a JSON config file. */
  file?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by flag name (`mqtt-port`), as strings from the command line. */
  flags?: Readonly<Record<string, string | boolean | string[] | undefined>>;
  /** Programmatic overrides (tests, embedding), applied last. */
  overrides?: Record<string, unknown>;
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let t = tree;
  for (const k of path.slice(0, -1)) {
    if (!isTree(t[k])) t[k] = {};
    t = t[k] as Tree;
  }
  t[path[path.length - 1] as string] = value;
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isTree(v) && isTree(out[k]) ? deepMerge(out[k] as Tree, v) : v;
  }
  return out;
}

function convert(raw: string | boolean | string[], type: OptionType, key: string, source: string): unknown {
  const bad = (why: string) =>
    new ConfigError('config.invalid', `config.invalid: ${key} ${why} (got ${JSON.stringify(raw)} from ${source})`, {
      details: { key, source },
    });
  switch (type) {
    case 'string':
      if (typeof raw !== 'string') throw bad('must be a string');
      return raw;
    case 'int': {
      if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim())) throw bad('must be an integer');
      return Number(raw.trim());
    }
    case 'bool':
      if (raw === true || raw === 'true' || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === '0') return false;
      throw bad('must be true or false');
    case 'list':
      if (Array.isArray(raw)) return raw;
      if (typeof raw !== 'string') throw bad('must be a comma-separated list');
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${key ? `${key}.` : ''}${k} is not a known option`).join('; ');
  }
  // Our own messages already start with the key name; zod's defaults do not.
  return issue.message.startsWith(key) && key !== '' ? issue.message : `${key || '(root)'} ${issue.message}`;
}

/**
 * Builds the configuration from its sources and validates it once. Errors are {@link ConfigError}s with code
 * `config.invalid` (or `config.file`) whose message names the bad key and its source.
 */
export function loadConfig(input: LoadConfigInput = {}): GatewayConfig {
  const env = input.env ?? {};
  const flags = input.flags ?? {};
  const sources = new Map<string, string>();
  let tree: Tree = {};

  const file = (typeof flags.config === 'string' ? flags.config : undefined) ?? input.file ?? env[CONFIG_FILE_ENV];
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError('config.file', `config.file: cannot read ${file}`, { cause: e, details: { file } });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new ConfigError('config.file', `config.file: ${file} is not valid JSON`, { cause: e, details: { file } });
    }
    if (!isTree(parsed)) throw new ConfigError('config.file', `config.file: ${file} must hold a JSON object`);
    tree = parsed;
  }

  const layer = (kind: 'env' | 'flag') => {
    const over: Tree = {};
    for (const o of CONFIG_OPTIONS) {
      const raw = kind === 'env' ? env[o.env] : flags[o.flag];
      if (raw === undefined || raw === '') continue;
      const key = o.path.join('.');
      const source = kind === 'env' ? o.env : `--${o.flag}`;
      setPath(over, o.path, convert(raw, o.type, key, source));
      sources.set(key, source);
    }
    tree = deepMerge(tree, over);
  };
  layer('env');
  layer('flag');
  if (input.overrides) tree = deepMerge(tree, input.overrides);

  const result = gatewayConfigSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue ? issue.path.map(String).join('.') : '';
    const source = sources.get(key) ?? (file ? file : 'defaults');
    const all = result.error.issues.map(describeIssue);
    throw new ConfigError('config.invalid', `config.invalid: ${all.join('; ')} (from ${source})`, {
      details: { key, source, issues: all },
    });
  }
  return result.data;
}
