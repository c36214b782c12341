export {
  ensureGatewayIdentity,
  type GatewayIdentity,
  type InitIdentityOptions,
  initGatewayIdentity,
  keyId,
  loadGatewayIdentity,
  pkiDir,
} from './gateway-identity.js';
