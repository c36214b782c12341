export { commandRoutes, registerCommandRoutes } from './routes.js';
export { commandDeliveries, commands } from './schema.js';
export { getCommand, issueCommand, issuerOf, recordCommandAcks, takePendingCommands } from './service.js';
