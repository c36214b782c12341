export { createHttpApp, type HealthReport, type HttpAppOptions } from './app.js';
export { type HttpServerHandle, startHttpServer } from './server.js';
