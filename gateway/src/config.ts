import { type GatewayConfig, type LoadConfigInput, loadConfig } from './config/index.js';

/**
 * The one place the gateway reads `process.env` (STYLE.md): the configuration from file, environment and flags,
 * validated once at start.
 */
export function configFromProcess(input: Omit<LoadConfigInput, 'env'> = {}): GatewayConfig {
  return loadConfig({ ...input, env: process.env });
}

export type { GatewayConfig } from './config/index.js';
