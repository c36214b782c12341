export {
  type AclAction,
  type AclRule,
  authorizeDevicePublish,
  authorizeDeviceSubscribe,
  compileRulesFor,
  type PublishKind,
  validateAclRules,
} from './acl.js';
export { createBroker } from './broker.js';
export { ClientCertificateVerifier, type ClientTrust } from './client-certificates.js';
export { type BrokerLimits, resolveLimits } from './limits.js';
export { hashPassword, verifyPassword } from './passwords.js';
export type {
  AccessDenied,
  AuthFailure,
  Broker,
  BrokerHooks,
  BrokerMessage,
  BrokerOptions,
  DeviceConnectionInfo,
  DeviceCredential,
  IdentityConflict,
  ListenerOptions,
  TlsListenerOptions,
  Transport,
} from './types.js';
