export { CONFIG_FILE_ENV, CONFIG_OPTIONS, ConfigError, type LoadConfigInput, loadConfig } from './load.js';
export { type GatewayConfig, type GatewayConfigInput, gatewayConfigSchema, LOG_LEVELS } from './schema.js';
