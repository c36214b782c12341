export { countTelemetryRows, readRollups, type SeriesPoint } from './queries.js';
export { type RetentionOptions, type RetentionReport, TelemetryRetention } from './retention.js';
export { type TelemetryReading, TelemetryWriter, type TelemetryWriterOptions } from './writer.js';
