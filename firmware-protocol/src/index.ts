export * from './cbor/index.js';
export * from './cose/index.js';
export * from './crypto/index.js';
export * from './ear/index.js';
export * from './errors.js';
export * from './evidence/index.js';
export * from './messages/index.js';
export * from './pki/index.js';
