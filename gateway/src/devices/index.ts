export { DeviceEvents, type DeviceEventsDeps } from './device-events.js';
