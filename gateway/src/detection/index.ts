export { ALERT_TYPES, type AlertInput, AlertStore, type AlertType, type RaiseOutcome } from './alerts.js';
export { Detector, type DetectorOptions } from './detector.js';
export { type RateAnomaly, RateBaseline, type RateBaselineOptions } from './rate-baseline.js';
