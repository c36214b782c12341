import { parseArgs } from 'node:util';
import { createLogger } from '@palisade/shared';
import { startGateway } from '../main.js';
import type { CliIo, ExitCode } from './io.js';

/** `start`: runs the gateway until Ctrl-C / SIGTERM, then stops cleanly. */
export async function runStart(args: string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string' },
      'mqtt-port': { type: 'string' },
      'mqtts-port': { type: 'string' },
      'ws-port': { type: 'string' },
      'http-port': { type: 'string' },
      config: { type: 'string' },
      'gateway-id': { type: 'string' },
      'log-level': { type: 'string' },
    },
    allowPositionals: false,
    strict: true,
  });
  const config = io.loadConfig(values);
  const logger = createLogger({
    service: 'gateway',
    level: config.log.level,
    destination: io.stdout as NodeJS.WritableStream,
  });
  const gateway = await startGateway(config, { logger });
  await io.waitForStop();
  await gateway.stop();
  return 0;
}
