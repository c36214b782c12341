export { API_PREFIX, type CloudAppOptions, createCloudApp, type RouteModule } from './app.js';
export { type BootstrapInput, bootstrap, DEFAULT_ADMIN_EMAIL } from './auth/bootstrap.js';
export { readCloudEnv } from './config.js';
export { type DashboardDeps, registerDashboard } from './dashboard/index.js';
export { openDatabase } from './db/index.js';
export type { CloudDatabase } from './db/types.js';
export { type RunningCloud, type StartCloudOptions, startCloud } from './main.js';
