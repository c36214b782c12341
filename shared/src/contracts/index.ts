export * from './commands.js';
export * from './ear.js';
export * from './http.js';
export * from './request-signing.js';
export * from './sync.js';
