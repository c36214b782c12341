import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock, ValidationError } from '@palisade/shared';
import { OPERATOR_ROLES, type OperatorRole, OperatorStore } from '../panel/index.js';
import { CredentialStore, ReferenceStore, Registry } from '../registry/index.js';
import { databasePath, openStore, type Store } from '../store/index.js';
import type { DeviceRow, EnrollmentState } from '../store/schema.js';
import type { CliIo, ExitCode } from './io.js';

/** Flags every data-dir command accepts (the data dir itself may also come from the config file or env). */
const COMMON = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

function usage(text: string): never {
  throw new ValidationError('validation.usage', text);
}

async function withStoreAsync<T>(
  io: CliIo,
  flags: Record<string, unknown>,
  f: (store: Store) => Promise<T>,
): Promise<T> {
  const config = io.loadConfig({
    'data-dir': flags['data-dir'] as string | undefined,
    config: flags.config as string | undefined,
  });
  const store = openStore({ path: databasePath(config.dataDir) });
  try {
    return await f(store);
  } finally {
    store.close();
  }
}

function withStore<T>(io: CliIo, flags: Record<string, unknown>, f: (store: Store) => T): T {
  const config = io.loadConfig({
    'data-dir': flags['data-dir'] as string | undefined,
    config: flags.config as string | undefined,
  });
  const store = openStore({ path: databasePath(config.dataDir) });
  try {
    return f(store);
  } finally {
    store.close();
  }
}

function operator(flags: { actor?: string | undefined }): string {
  return `operator:${flags.actor ?? 'cli'}`;
}

function deviceLine(d: DeviceRow): string {
  const q = d.quarantined ? `quarantined(${d.quarantineReason ?? ''} by ${d.quarantinedBy ?? '?'})` : '-';
  const seen = d.lastSeen === null ? '-' : new Date(d.lastSeen).toISOString();
  return [d.id, d.enrollment, q, d.family ?? '-', d.firmwareVersion ?? '-', d.lastStatus ?? '-', seen].join('\t');
}

const DEVICE_USAGE =
  'usage: devices list [--state pending|approved|revoked] [--quarantined] | devices approve|revoke|quarantine|release <id> [--reason R] [--actor NAME] | devices set-secret <id> [--secret-stdin]';

/**
 * `devices set-secret <id>`: MQTT credentials for a device that cannot do TLS. The secret is generated (32 random
 * bytes, base64url) and printed once, or read from stdin; only its scrypt hash is stored.
 */
export async function runSetSecret(args: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...COMMON, 'secret-stdin': { type: 'boolean', default: false }, actor: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [action, id, ...rest] = positionals;
  if (action !== 'set-secret' || id === undefined || rest.length > 0) usage(DEVICE_USAGE);
  const secret = values['secret-stdin'] ? (await io.readStdin()).trim() : randomBytes(32).toString('base64url');
  return withStoreAsync(io, values, async (store): Promise<ExitCode> => {
    await new CredentialStore(store.db, systemClock).set(id, secret, operator(values));
    io.stdout.write(values['secret-stdin'] ? `secret set for ${id}\n` : `${secret}\n`);
    return 0;
  });
}

const OPERATORS_USAGE = 'usage: operators add <name> --role operator|viewer   (password on stdin)';

/** `operators add <name> --role R`: a local account for the web panel; the password is read from stdin. */
export async function runOperators(args: string[], io: CliIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...COMMON, role: { type: 'string', default: 'operator' } },
    allowPositionals: true,
    strict: true,
  });
  const [action, name, ...rest] = positionals;
  if (action !== 'add' || name === undefined || rest.length > 0) usage(OPERATORS_USAGE);
  if (!(OPERATOR_ROLES as readonly string[]).includes(values.role)) usage(OPERATORS_USAGE);
  const password = (await io.readStdin()).replace(/\r?\n$/, '');
  if (password.length < 12)
    throw new ValidationError('validation.password', 'operator passwords are at least 12 characters');
  return withStoreAsync(io, values, async (store): Promise<ExitCode> => {
    const op = await new OperatorStore(store, systemClock).create(name, password, values.role as OperatorRole);
    io.stdout.write(values.json ? `${JSON.stringify(op)}\n` : `operator ${op.name} (${op.role}) created\n`);
    return 0;
  });
}

/** `devices list|approve|revoke|quarantine|release`, on the data dir's SQLite (works beside a running gateway). */
export function runDevices(args: string[], io: CliIo): ExitCode {
  const { values, positionals } = parseArgs({
    args,
    options: {
      ...COMMON,
      state: { type: 'string' },
      quarantined: { type: 'boolean' },
      reason: { type: 'string' },
      actor: { type: 'string' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, id, ...rest] = positionals;
  if (rest.length > 0) usage(DEVICE_USAGE);
  return withStore(io, values, (store) => {
    const registry = new Registry(store.db, { clock: systemClock });
    let device: DeviceRow;
    switch (action) {
      case 'list': {
        const state = values.state;
        if (state !== undefined && !['pending', 'approved', 'revoked'].includes(state)) usage(DEVICE_USAGE);
        const filter: { enrollment?: EnrollmentState; quarantined?: boolean } = {};
        if (state !== undefined) filter.enrollment = state as EnrollmentState;
        if (values.quarantined !== undefined) filter.quarantined = values.quarantined;
        const list = registry.list(filter);
        if (values.json) io.stdout.write(`${JSON.stringify(list)}\n`);
        else for (const d of list) io.stdout.write(`${deviceLine(d)}\n`);
        return 0;
      }
      case 'approve':
        if (id === undefined) usage(DEVICE_USAGE);
        device = registry.approve(id, operator(values));
        break;
      case 'revoke':
        if (id === undefined) usage(DEVICE_USAGE);
        device = registry.revoke(id, operator(values), values.reason ?? 'operator');
        break;
      case 'quarantine':
        if (id === undefined) usage(DEVICE_USAGE);
        device = registry.quarantine(id, operator(values), values.reason ?? 'operator');
        break;
      case 'release':
        if (id === undefined) usage(DEVICE_USAGE);
        device = registry.release(id, operator(values));
        break;
      default:
        usage(DEVICE_USAGE);
    }
    io.stdout.write(values.json ? `${JSON.stringify(device)}\n` : `${deviceLine(device)}\n`);
    return 0;
  });
}

const REFVALS_USAGE = 'usage: refvals import FILE | refvals export [--out FILE]';

/** `refvals import FILE` (validated, all or nothing) and `refvals export [--out FILE]` (JSON). */
export function runRefvals(args: string[], io: CliIo): ExitCode {
  const { values, positionals } = parseArgs({
    args,
    options: { ...COMMON, out: { type: 'string' }, actor: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [action, file, ...rest] = positionals;
  if (rest.length > 0) usage(REFVALS_USAGE);
  return withStore(io, values, (store) => {
    const refs = new ReferenceStore(store.db, systemClock);
    if (action === 'import') {
      if (file === undefined) usage(REFVALS_USAGE);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new ValidationError('validation.file', `cannot read ${file}`, { cause: e });
      }
      const r = refs.import(text, operator(values));
      io.stdout.write(values.json ? `${JSON.stringify(r)}\n` : `imported ${r.imported} entries (${r.total} stored)\n`);
      return 0;
    }
    if (action === 'export' && file === undefined) {
      const text = refs.export();
      if (values.out !== undefined) writeFileSync(values.out, text);
      else io.stdout.write(text);
      return 0;
    }
    usage(REFVALS_USAGE);
  });
}
