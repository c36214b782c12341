import { runAttestVerify } from '../attestation/attest-verify.js';
import { runEnroll } from '../sync/enroll-command.js';
import { runDevices, runOperators, runRefvals, runSetSecret } from './data-commands.js';
import { type CliIo, type ExitCode, reportError } from './io.js';
import { runPki } from './pki-commands.js';
import { runStart } from './start-command.js';

export const USAGE = `usage: palisade-gateway <command>

  start [--data-dir DIR] [--mqtt-port N] [--mqtts-port N] [--ws-port N] [--http-port N] [--config FILE]
        every flag also by environment: PALISADE_GATEWAY_DATA_DIR, PALISADE_GATEWAY_MQTT_PORT, ...
  devices list [--state S] [--quarantined] [--json]
  devices approve|revoke|quarantine|release <id> [--reason R] [--actor NAME]
  devices set-secret <id> [--secret-stdin]    (MQTT credentials for devices without TLS; printed once)
  operators add <name> [--role operator|viewer]   (web panel account; password on stdin)
  refvals import FILE | refvals export [--out FILE]
  pki init [--force] [--dns NAME] [--ip ADDR] | pki show [--json]
  pki verify-chain            (JSON on stdin; exit 0 valid, 1 invalid, 2 unusable input)
  enroll --cloud URL --token TOKEN [--data-dir DIR] [--name NAME] [--force] [--json]
  attest verify --evidence FILE --trust-anchor PEM [--nonce HEX] [--reference-values FILE] [--at ISO-TIME]
                [--allow-test-keys] [--json]   (exit 0 affirming, 1 other status, 2 unusable input)

Exit codes: 0 done, 1 refused / not affirming / invalid, 2 unusable input or usage.
`;

/** Dispatches one command line; never throws, always resolves to an exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  try {
    switch (command) {
      case 'start':
        return await runStart(rest, io);
      case 'devices':
        return rest[0] === 'set-secret' ? await runSetSecret(rest, io) : runDevices(rest, io);
      case 'operators':
        return await runOperators(rest, io);
      case 'refvals':
        return runRefvals(rest, io);
      case 'pki':
        return await runPki(rest, io);
      case 'enroll':
        return await runEnroll(rest, io);
      case 'attest': {
        if (rest[0] !== 'verify') break;
        const r = await runAttestVerify(rest.slice(1));
        io.stdout.write(`${r.output}\n`);
        return r.exitCode;
      }
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(USAGE);
        return 0;
    }
    io.stderr.write(USAGE);
    return 2;
  } catch (e) {
    // parseArgs reports unknown or malformed flags with ERR_PARSE_ARGS_* codes: a usage error.
    if ((e as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`error: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    return reportError(io, e, json);
  }
}
