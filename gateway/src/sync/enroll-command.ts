import { parseArgs } from 'node:util';
import { ValidationError } from '@palisade/shared';
import type { CliIo, ExitCode } from '../cli/io.js';
import { enrollGateway } from './identity.js';

/**
 * `palisade-gateway enroll --cloud URL --token TOKEN [--data-dir DIR] [--name NAME] [--force] [--json]`: trades the
 * one-time token an admin created in the cloud for a certificate, and keeps key and certificate in the data dir.
 * The token is a secret: it is never printed.
 */
export async function runEnroll(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      cloud: { type: 'string' },
      token: { type: 'string' },
      'data-dir': { type: 'string' },
      name: { type: 'string' },
      force: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.cloud) throw new ValidationError('validation.usage', 'enroll needs --cloud URL');
  if (!values.token) throw new ValidationError('validation.usage', 'enroll needs --token TOKEN');
  let url: URL;
  try {
    url = new URL(values.cloud);
  } catch {
    throw new ValidationError('validation.cloud_url', `--cloud is not a URL: ${values.cloud}`);
  }
  const dataDir = io.loadConfig({ 'data-dir': values['data-dir'] }).dataDir;
  const id = await enrollGateway({
    cloudUrl: url.toString(),
    token: values.token,
    dataDir,
    force: values.force,
    ...(values.name === undefined ? {} : { name: values.name }),
  });
  const out = { gatewayId: id.gatewayId, orgId: id.orgId, siteId: id.siteId, cloudUrl: id.cloudUrl, dataDir };
  io.stdout.write(
    values.json ? `${JSON.stringify(out)}\n` : `enrolled as ${id.gatewayId} (site ${id.siteId}) with ${id.cloudUrl}\n`,
  );
  return 0;
}
