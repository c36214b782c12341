/** Public surface of the gateway package (used by the cross-package tests and benchmarks). */
export * from './attestation/index.js';
export type { CliIo, ExitCode } from './cli/io.js';
export { runCli } from './cli/run.js';
export {
  ConfigError,
  type GatewayConfig,
  type GatewayConfigInput,
  gatewayConfigSchema,
  loadConfig,
} from './config/index.js';
export { ALERT_TYPES, AlertStore, type AlertType, Detector } from './detection/index.js';
export { type GatewayIdentity, initGatewayIdentity, loadGatewayIdentity } from './identity/index.js';
export { type GatewayHandle, type StartGatewayOptions, startGateway } from './main.js';
export { OPERATOR_ROLES, type OperatorRole, OperatorStore, type PanelDeps, registerPanel } from './panel/index.js';
export { CredentialStore, DeviceGate, ReferenceStore, Registry } from './registry/index.js';
export { databasePath, NonceStore, openStore, type Store } from './store/index.js';
export * from './sync/index.js';
export { countTelemetryRows, TelemetryRetention, TelemetryWriter } from './telemetry/index.js';
