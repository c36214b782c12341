import { afterEach, describe, expect, it } from 'vitest';
import { OPERATOR, type PanelWorld, panelWorld, REFERENCE_DOC, seedBulk, seedPlant, VIEWER } from './fixture.js';

const worlds: PanelWorld[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.close();
});

async function world(): Promise<PanelWorld> {
  const w = await panelWorld();
  worlds.push(w);
  return w;
}

function form(fields: Record<string, string>): { body: string; headers: Record<string, string> } {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

async function login(w: PanelWorld, who = OPERATOR): Promise<{ cookie: string; csrf: string }> {
  const res = await w.app.request('/panel/login', {
    method: 'POST',
    ...form({ name: who.name, password: who.password }),
  });
  expect(res.status).toBe(303);
  const set = res.headers.get('set-cookie') ?? '';
  const cookie = set.split(';')[0] ?? '';
  const page = await (await w.app.request('/panel/devices', { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return { cookie, csrf };
}

describe('sign-in', () => {
  it('sends a visitor without a session to the login page, and refuses a wrong password', async () => {
    const w = await world();
    const res = await w.app.request('/panel/devices');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/panel/login');
    const bad = await w.app.request('/panel/login', {
      method: 'POST',
      ...form({ name: OPERATOR.name, password: 'wrong password!!' }),
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toContain('wrong name or password');
    const unknown = await w.app.request('/panel/login', {
      method: 'POST',
      ...form({ name: 'nobody', password: OPERATOR.password }),
    });
    expect(unknown.status).toBe(401);
  });

  it('sets an HttpOnly, SameSite=Strict session cookie scoped to the panel; sign-out ends the session', async () => {
    const w = await world();
    const res = await w.app.request('/panel/login', {
      method: 'POST',
      ...form({ name: OPERATOR.name, password: OPERATOR.password }),
    });
    const set = res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\/panel/);
    const page = await w.app.request('/panel/login');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const { cookie, csrf } = await login(w);
    const out = await w.app.request('/panel/logout', {
      method: 'POST',
      ...form({ _csrf: csrf }),
      headers: { ...form({}).headers, cookie },
    });
    expect(out.status).toBe(303);
    expect((await w.app.request('/panel/devices', { headers: { cookie } })).status).toBe(303);
  });

  it('locks a name after five wrong passwords, even for the right password', async () => {
    const w = await world();
    for (let i = 0; i < 5; i++) {
      await w.app.request('/panel/login', {
        method: 'POST',
        ...form({ name: VIEWER.name, password: `nope nope nope ${i}` }),
      });
    }
    const res = await w.app.request('/panel/login', {
      method: 'POST',
      ...form({ name: VIEWER.name, password: VIEWER.password }),
    });
    expect(res.status).toBe(429);
  });

  it('a forged cookie is no session', async () => {
    const w = await world();
    const res = await w.app.request('/panel/devices', { headers: { cookie: 'palisade_panel=forged' } });
    expect(res.status).toBe(303);
  });
});

describe('devices', () => {
  it('lists devices with family, firmware, attestation status with reasons, and quarantine', async () => {
    const w = await world();
    await seedPlant(w);
    const { cookie } = await login(w);
    const html = await (await w.app.request('/panel/devices', { headers: { cookie } })).text();
    expect(html).toContain('stm32-pump-01');
    expect(html).toContain('nrf52-valve-01');
    const tampered = /<tr data-device="esp32-meter-02">([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '';
    expect(tampered).toContain('data-status="contraindicated"');
    expect(tampered).toContain('appraisal.measurement_mismatch');
    expect(tampered).toContain('data-quarantined="yes"');
    const failedOnly = await (
      await w.app.request('/panel/devices?status=contraindicated', { headers: { cookie } })
    ).text();
    expect(failedOnly.match(/<tr data-device=/g)?.length).toBe(1);
    const search = await (await w.app.request('/panel/devices?q=valve', { headers: { cookie } })).text();
    expect(search.match(/<tr data-device="([^"]+)"/g)).toEqual(['<tr data-device="nrf52-valve-01"']);
    const pending = await (await w.app.request('/panel/devices?enrollment=pending', { headers: { cookie } })).text();
    expect(pending).toContain('nrf52-new-07');
    expect(pending.match(/<tr data-device=/g)?.length).toBe(1);
  });

  it('a LIKE wildcard in the search matches itself only', async () => {
    const w = await world();
    await seedPlant(w);
    const { cookie } = await login(w);
    const html = await (await w.app.request('/panel/devices?q=%25', { headers: { cookie } })).text();
    expect(html).toContain('No device matches.');
  });

  it('the device page shows the attestation timeline, boot counters, certificate and a telemetry chart', async () => {
    const w = await world();
    await seedPlant(w);
    const { cookie } = await login(w);
    const res = await w.app.request('/panel/devices/esp32-meter-02', { headers: { cookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('CN=esp32-meter-02,O=Acme Devices');
    expect(html.match(/<li><span><time/g)?.length).toBe(5);
    expect(html).toContain('boot counter 2');
    const boot = /id="boot-chart" data-chart="([^"]+)"/.exec(html)?.[1] ?? '';
    const bootSpec = JSON.parse(boot.replaceAll('&quot;', '"')) as { series: { y: number[] }[] };
    expect(bootSpec.series[0]?.y).toEqual([3, 4, 5, 6, 2]);
    const pump = await (
      await w.app.request('/panel/devices/stm32-pump-01?metric=temperature', { headers: { cookie } })
    ).text();
    const tele = /id="telemetry-chart" data-chart="([^"]+)"/.exec(pump)?.[1] ?? '';
    const teleSpec = JSON.parse(tele.replaceAll('&quot;', '"')) as { x: number[] };
    expect(teleSpec.x.length).toBeGreaterThanOrEqual(30);
    expect((await w.app.request('/panel/devices/ghost', { headers: { cookie } })).status).toBe(404);
  });

  it('escapes what devices and alerts report', async () => {
    const w = await world();
    w.alerts.raise({
      type: 'unknown_device',
      severity: 'warning',
      deviceId: null,
      details: { note: '<img src=x onerror=alert(1)>' },
    });
    const { cookie } = await login(w);
    const html = await (await w.app.request('/panel/alerts', { headers: { cookie } })).text();
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('actions', () => {
  it('quarantine, release, approve and re-attest from the panel, audited with the operator name', async () => {
    const w = await world();
    await seedPlant(w);
    const { cookie, csrf } = await login(w);
    const post = (path: string, fields: Record<string, string> = {}) =>
      w.app.request(path, {
        method: 'POST',
        body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
        headers: { ...form({}).headers, cookie },
      });
    expect((await post('/panel/devices/stm32-pump-02/quarantine', { reason: 'maintenance window' })).status).toBe(303);
    expect(w.registry.get('stm32-pump-02')).toMatchObject({
      quarantined: true,
      quarantineReason: 'maintenance window',
      quarantinedBy: 'operator:ann',
    });
    const page = await (await w.app.request('/panel/devices/stm32-pump-02', { headers: { cookie } })).text();
    expect(page).toContain('quarantined: its publishes are refused');
    expect(page).toContain('data-action="release"');
    await post('/panel/devices/stm32-pump-02/release');
    expect(w.registry.get('stm32-pump-02')?.quarantined).toBe(false);
    await post('/panel/devices/nrf52-new-07/approve');
    expect(w.registry.get('nrf52-new-07')?.enrollment).toBe('approved');
    await post('/panel/devices/stm32-pump-01/reattest');
    expect(w.reattested).toEqual(['stm32-pump-01']);
    expect(await (await w.app.request('/panel/devices/stm32-pump-01', { headers: { cookie } })).text()).toContain(
      'Challenge sent',
    );
    w.registry.admit({ deviceId: 'nrf-offline', via: 'allow-list', family: 'nrf52' });
    await post('/panel/devices/nrf-offline/reattest');
    const offline = await (await w.app.request('/panel/devices/nrf-offline', { headers: { cookie } })).text();
    expect(offline).toContain('is not connected now');
    expect((await post('/panel/devices/ghost/quarantine', { reason: 'x' })).status).toBe(404);
    const audit = w.store.sqlite
      .prepare(`SELECT actor, action FROM audit WHERE actor = 'operator:ann' ORDER BY id`)
      .all();
    expect(audit).toEqual([
      { actor: 'operator:ann', action: 'device.quarantine' },
      { actor: 'operator:ann', action: 'device.release' },
      { actor: 'operator:ann', action: 'device.approve' },
    ]);
  });

  it('refuses a POST without the CSRF token, with another session’s token, and from a viewer; nothing changes', async () => {
    const w = await world();
    await seedPlant(w);
    const a = await login(w);
    const v = await login(w, VIEWER);
    const post = (cookie: string, fields: Record<string, string>) =>
      w.app.request('/panel/devices/stm32-pump-02/quarantine', {
        method: 'POST',
        body: new URLSearchParams(fields).toString(),
        headers: { ...form({}).headers, cookie },
      });
    expect((await post(a.cookie, { reason: 'x' })).status).toBe(403);
    expect((await post(a.cookie, { _csrf: v.csrf, reason: 'x' })).status).toBe(403);
    expect((await post(v.cookie, { _csrf: v.csrf, reason: 'x' })).status).toBe(403);
    expect((await post('', { _csrf: a.csrf, reason: 'x' })).status).toBe(401);
    expect(w.registry.get('stm32-pump-02')?.quarantined).toBe(false);
    const viewerPage = await (
      await w.app.request('/panel/devices/stm32-pump-02', { headers: { cookie: v.cookie } })
    ).text();
    expect(viewerPage).not.toContain('data-action="quarantine"');
    expect(viewerPage).toContain('actions are hidden');
  });
});

describe('reference values', () => {
  it('shows, exports and imports; a bad file changes nothing', async () => {
    const w = await world();
    const { cookie, csrf } = await login(w);
    const view = await (await w.app.request('/panel/reference-values', { headers: { cookie } })).text();
    expect(view).toContain('aa'.repeat(32));
    const exported = await w.app.request('/panel/reference-values/export', { headers: { cookie } });
    expect(exported.headers.get('content-disposition')).toContain('reference-values.json');
    expect(JSON.parse(await exported.text())).toEqual(REFERENCE_DOC);
    const importJson = (json: string) =>
      w.app.request('/panel/reference-values/import', {
        method: 'POST',
        body: new URLSearchParams({ _csrf: csrf, json }).toString(),
        headers: { ...form({}).headers, cookie },
      });
    await importJson('{"version":1,"entries":[{"boardFamily":"stm32"}]}');
    expect(w.refs.setBy).toEqual([]);
    const after = await (await w.app.request('/panel/reference-values', { headers: { cookie } })).text();
    expect(after).toContain('Nothing imported: invalid reference values');
    const next = {
      ...REFERENCE_DOC,
      entries: [
        ...REFERENCE_DOC.entries,
        {
          boardFamily: 'esp32',
          firmwareVersion: '3.1.0',
          components: [{ name: 'app', alg: 'sha-256', digest: 'bb'.repeat(32) }],
        },
      ],
    };
    await importJson(JSON.stringify(next));
    expect(w.refs.setBy).toEqual(['operator:ann']);
    expect(w.refs.current.size).toBe(2);
  });
});

describe('live updates', () => {
  it('the event stream sends a change when a device changes', async () => {
    const w = await world();
    await seedPlant(w);
    const { cookie } = await login(w);
    const res = await w.app.request('/panel/events', { headers: { cookie } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const read = async (until: string) => {
      while (!text.includes(until)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
    };
    await read('event: hello');
    w.clock.advance(1000);
    w.registry.quarantine('esp32-meter-01', 'operator:cli', 'from the CLI');
    await read('event: change');
    expect(text).toContain('event: change');
    await reader.cancel();
  });
});

describe('scale', () => {
  it('pages 10,000 devices 50 at a time, filtered and searched, without loading the table', async () => {
    const w = await world();
    seedBulk(w.store, 10_000, w.clock.now());
    const { cookie } = await login(w);
    const timings: Record<string, number> = {};
    for (const path of [
      '/panel/devices',
      '/panel/devices?page=150',
      '/panel/devices?status=contraindicated&family=stm32',
      '/panel/devices?q=bulk-099',
    ]) {
      const t0 = performance.now();
      const res = await w.app.request(path, { headers: { cookie } });
      const html = await res.text();
      timings[path] = Math.round(performance.now() - t0);
      expect(res.status).toBe(200);
      const rows = html.match(/<tr data-device=/g)?.length ?? 0;
      expect(rows).toBeGreaterThan(0);
      expect(rows).toBeLessThanOrEqual(50);
      expect(html.length).toBeLessThan(200_000);
    }
    const last = await (await w.app.request('/panel/devices?page=200', { headers: { cookie } })).text();
    expect(last).toContain('9951–10000 of 10000');
    console.log(JSON.stringify({ panelDevicePagesMs: timings }));
  });
});
