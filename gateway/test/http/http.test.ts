import { NotFoundError } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { createHttpApp, type HealthReport, startHttpServer } from '../../src/http/index.js';
import { createMetrics } from '../../src/metrics/index.js';

function healthy(over: Partial<HealthReport> = {}): HealthReport {
  return { status: 'ok', db: true, broker: { listening: true, ports: { mqtt: 1 } }, counts: { devices: 2 }, ...over };
}

describe('HTTP surface', () => {
  it('GET /health is 200 when healthy and 503 when degraded', async () => {
    let report = healthy();
    const app = createHttpApp({ health: () => report, metrics: createMetrics().registry });
    const ok = await app.request('/health');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'ok', db: true, counts: { devices: 2 } });
    report = healthy({ status: 'degraded', db: false });
    expect((await app.request('/health')).status).toBe(503);
  });

  it('GET /metrics exposes the gateway metrics in Prometheus text format', async () => {
    const m = createMetrics({ queueDepths: () => ({ appraisals: 3 }) });
    m.appraisals.inc({ status: 'affirming' });
    m.alerts.inc({ type: 'unknown_device' });
    const app = createHttpApp({ health: () => healthy(), metrics: m.registry });
    const res = await app.request('/metrics');
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('palisade_gateway_queue_depth{queue="appraisals"} 3');
    expect(text).toContain('palisade_gateway_appraisals_total{status="affirming"} 1');
    expect(text).toContain('palisade_gateway_alerts_total{type="unknown_device"} 1');
    expect(text).toContain('palisade_gateway_process_resident_memory_bytes');
  });

  it('maps typed errors to statuses and unknown routes to 404', async () => {
    const app = createHttpApp({
      health: () => {
        throw new NotFoundError('not_found.thing', 'gone');
      },
      metrics: createMetrics().registry,
    });
    const res = await app.request('/health');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'not_found.thing', message: 'gone' });
    expect((await app.request('/nope')).status).toBe(404);
  });

  it('serves on an ephemeral port and closes cleanly', async () => {
    const app = createHttpApp({ health: () => healthy(), metrics: createMetrics().registry });
    const server = await startHttpServer(app, { host: '127.0.0.1', port: 0 });
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${server.port}/health`);
    expect(res.status).toBe(200);
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
  });
});
