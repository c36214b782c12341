export * from './clock.js';
export * from './contracts/index.js';
export * from './errors.js';
export * from './ids.js';
export * from './logger.js';
export * from './web/client.js';
export * from './web/styles.js';
