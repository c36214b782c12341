/** The device PKI: manufacturer root, issuing CA, device and server certificates, CRLs. @see PROTOCOL.md §10 */
export * from './certificates.js';
export { type CrlOptions, createCrl, type RevokedEntry } from './crl.js';
export * from './keys.js';
export * from './parse.js';
export { toPem } from './pem.js';
