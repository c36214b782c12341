import { parseArgs } from 'node:util';
import { ValidationError } from '@palisade/shared';
import { type GatewayIdentity, initGatewayIdentity, loadGatewayIdentity } from '../identity/index.js';
import { runVerifyChain } from '../pki/verify-chain-command.js';
import type { CliIo, ExitCode } from './io.js';

const USAGE =
  'usage: pki init [--force] [--dns NAME]... [--ip ADDR]... | pki show [--json] | pki verify-chain < input.json';

function describe(id: GatewayIdentity): Record<string, unknown> {
  return {
    dir: id.dir,
    kid: id.kid,
    server: {
      subject: id.server.subject,
      issuer: id.server.issuer,
      serial: id.server.serial,
      notAfter: id.server.notAfter.toISOString(),
      dnsNames: id.server.dnsNames,
      ipAddresses: id.server.ipAddresses,
    },
    ca: { subject: id.ca.subject, notAfter: id.ca.notAfter.toISOString() },
    publicKeyPem: id.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function print(io: CliIo, id: GatewayIdentity, json: boolean): void {
  const d = describe(id);
  if (json) {
    io.stdout.write(`${JSON.stringify(d)}\n`);
    return;
  }
  io.stdout.write(
    `key id:  ${id.kid}\nserver:  ${id.server.subject} (serial ${id.server.serial}, until ${id.server.notAfter.toISOString()})\n` +
      `names:   ${[...id.server.dnsNames, ...id.server.ipAddresses].join(', ')}\nca:      ${id.ca.subject}\n` +
      `files:   ${id.dir}\n`,
  );
}

/** `pki init|show` (the gateway's own key and certificate) and `pki verify-chain` (the broker's path validator). */
export async function runPki(args: string[], io: CliIo): Promise<ExitCode> {
  if (args[0] === 'verify-chain') {
    if (args.length > 1) throw new ValidationError('validation.usage', USAGE);
    const r = await runVerifyChain(await io.readStdin());
    io.stdout.write(`${JSON.stringify(r.output)}\n`);
    return r.exitCode;
  }
  const { values, positionals } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
    },
    allowPositionals: true,
    strict: true,
  });
  const config = io.loadConfig({ 'data-dir': values['data-dir'], config: values.config });
  if (positionals.length === 1 && positionals[0] === 'init') {
    const id = await initGatewayIdentity(config.dataDir, {
      gatewayId: config.gatewayId,
      force: values.force,
      ...(values.dns === undefined ? {} : { dnsNames: values.dns }),
      ...(values.ip === undefined ? {} : { ipAddresses: values.ip }),
    });
    print(io, id, values.json);
    return 0;
  }
  if (positionals.length === 1 && positionals[0] === 'show') {
    print(io, loadGatewayIdentity(config.dataDir), values.json);
    return 0;
  }
  throw new ValidationError('validation.usage', USAGE);
}
