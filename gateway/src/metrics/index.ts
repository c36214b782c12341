export { createMetrics, type GatewayMetrics, type MetricSources } from './metrics.js';
