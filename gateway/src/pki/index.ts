export { derObjects, pemBlocks, toPem } from './pem.js';
export {
  CHAIN_REASONS,
  type ChainReason,
  DEFAULT_MAX_CHAIN_DEPTH,
  formatName,
  type LeafInfo,
  MAX_INTERMEDIATES,
  type VerifyChainInput,
  type VerifyChainResult,
  verifyChain,
} from './validator.js';
export { runVerifyChain, type VerifyChainCommandResult } from './verify-chain-command.js';
