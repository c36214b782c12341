import { gzipSync } from 'node:zlib';
import {
  SYNC_BATCHES_PATH,
  SYNC_COMMAND_ACKS_PATH,
  SYNC_COMMANDS_PATH,
  type SyncBatch,
  signRequest,
} from '@palisade/shared';
import { and, eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { auditLog } from '../../src/tenancy/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { makeWorld, readJson, type TestGateway, type World } from '../helpers/world.js';

const COHORT = 'c0'.repeat(32);

function device(w: World, id: string, measurement = COHORT): SyncBatch['records'][number] {
  const t = new Date(w.clock.now()).toISOString();
  return {
    kind: 'device',
    id,
    occurredAt: t,
    receivedAt: t,
    data: {
      boardFamily: 'nrf52',
      firmwareMeasurement: measurement,
      attestationStatus: 'affirming',
      quarantined: false,
      riskScore: 0,
    },
  };
}

/** A signed gateway request other than a batch upload. */
function signed(w: World, gw: TestGateway, method: 'GET' | 'POST', path: string, body = '', as: TestGateway = gw) {
  const headers = signRequest({ gatewayId: as.id, privateKey: as.privateKey, method, path, body, now: w.clock.now() });
  return w.app.request(path, {
    method,
    headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body } : {}),
  });
}

interface Setup {
  w: World;
  a: TestGateway;
  b: TestGateway;
}

forEachDatabase(
  'commands down to gateways',
  async (db): Promise<Setup> => {
    const w = await makeWorld(db);
    const a = await w.enrollGateway(w.org, 'plant-a');
    const b = await w.enrollGateway(w.org, 'plant-b');
    expect(
      (await a.send(a.batch(1, [device(w, 'a-1'), device(w, 'a-2'), device(w, 'a-3', 'ee'.repeat(32))]))).status,
    ).toBe(200);
    expect((await b.send(b.batch(1, [device(w, 'b-1')]))).status).toBe(200);
    return { w, a, b };
  },
  (get) => {
    it('resolves a firmware cohort into one delivery per gateway, and only analysts and admins may issue', async () => {
      const { w, a, b } = get();
      const body = { target: { kind: 'cohort', firmwareMeasurement: COHORT }, args: { type: 'reattest' } };
      expect((await w.call('POST', '/api/v1/commands', { key: w.org.keys.viewer, body })).status).toBe(403);
      const view = await w.json('POST', '/api/v1/commands', { key: w.org.keys.analyst, body });
      expect(view.deliveries.map((d: { gatewayId: string }) => d.gatewayId)).toEqual([a.id, b.id].sort());
      const forA = view.deliveries.find((d: { gatewayId: string }) => d.gatewayId === a.id);
      expect(forA).toMatchObject({ deviceIds: ['a-1', 'a-2'], state: 'pending', deliveredAt: null });
      expect(view.issuedBy).toMatch(/^api_key:/);
      const again = await w.json('GET', `/api/v1/commands/${view.id}`, { key: w.org.keys.viewer });
      expect(again.id).toBe(view.id);
      // Another organisation cannot see it.
      const other = await w.addOrg('other org');
      expect((await w.call('GET', `/api/v1/commands/${view.id}`, { key: other.keys.admin })).status).toBe(404);
    });

    it('rides on the sync ack and on the long-poll, is acked once by its own gateway only, and is audited', async () => {
      const { w, a, b } = get();
      const issued = await w.json('POST', '/api/v1/commands', {
        key: w.org.keys.admin,
        body: { target: { kind: 'device', deviceId: 'a-1' }, args: { type: 'quarantine', reason: 'case 9' } },
      });
      // Delivered with the next batch's ack (together with the re-attest still waiting from the test above).
      const ack = await readJson(await a.send(a.batch(2, [])));
      expect(ack.ackedSequence).toBe(2);
      const ids = ack.commands.map((c: { id: string }) => c.id);
      expect(ids).toContain(issued.id);
      const cmd = ack.commands.find((c: { id: string }) => c.id === issued.id);
      expect(cmd).toMatchObject({ deviceIds: ['a-1'], args: { type: 'quarantine', reason: 'case 9' } });
      // Until acked it is handed out again (the gateway applies by id, at most once).
      const polled = await readJson(await signed(w, a, 'GET', `${SYNC_COMMANDS_PATH}?waitSeconds=0`));
      expect(polled.commands.map((c: { id: string }) => c.id)).toContain(issued.id);
      // Gateway b has nothing for it, and cannot ack a's command.
      const bPolled = await readJson(await signed(w, b, 'GET', `${SYNC_COMMANDS_PATH}?waitSeconds=0`));
      expect(bPolled.commands.map((c: { id: string }) => c.id)).not.toContain(issued.id);
      const outcome = JSON.stringify({
        acks: [
          {
            commandId: issued.id,
            outcome: 'applied',
            detail: '1 device(s)',
            at: new Date(w.clock.now()).toISOString(),
          },
        ],
      });
      expect(await readJson(await signed(w, b, 'POST', SYNC_COMMAND_ACKS_PATH, outcome))).toEqual({ accepted: 0 });
      expect(await readJson(await signed(w, a, 'POST', SYNC_COMMAND_ACKS_PATH, outcome))).toEqual({ accepted: 1 });
      expect(await readJson(await signed(w, a, 'POST', SYNC_COMMAND_ACKS_PATH, outcome))).toEqual({ accepted: 0 });
      const view = await w.json('GET', `/api/v1/commands/${issued.id}`, { key: w.org.keys.viewer });
      expect(view.deliveries[0]).toMatchObject({ gatewayId: a.id, state: 'applied', detail: '1 device(s)' });
      const after = await readJson(await signed(w, a, 'GET', `${SYNC_COMMANDS_PATH}?waitSeconds=0`));
      expect(after.commands.map((c: { id: string }) => c.id)).not.toContain(issued.id);
      const audit = await w.database.db
        .select({ action: auditLog.action, actorKind: auditLog.actorKind, actorId: auditLog.actorId })
        .from(auditLog)
        .where(and(eq(auditLog.orgId, w.org.id), eq(auditLog.targetId, issued.id)));
      expect(audit.map((e) => `${e.action}:${e.actorKind}`).sort()).toEqual([
        'command.ack:gateway',
        'command.issue:api_key',
      ]);
    });

    it('refuses unsigned, forged and malformed gateway calls', async () => {
      const { w, a, b } = get();
      expect((await w.app.request(`${SYNC_COMMANDS_PATH}?waitSeconds=0`)).status).toBe(401);
      // b's key signing a request that claims to be a.
      const forged = signRequest({
        gatewayId: a.id,
        privateKey: b.privateKey,
        method: 'GET',
        path: SYNC_COMMANDS_PATH,
        body: '',
        now: w.clock.now(),
      });
      expect((await w.app.request(SYNC_COMMANDS_PATH, { headers: forged })).status).toBe(401);
      expect((await signed(w, a, 'POST', SYNC_COMMAND_ACKS_PATH, '{"acks": "no"}')).status).toBe(400);
      expect((await signed(w, a, 'POST', SYNC_COMMAND_ACKS_PATH, 'not json')).status).toBe(400);
      // A user key is not a gateway.
      expect((await w.call('GET', SYNC_COMMANDS_PATH, { key: w.org.keys.admin })).status).toBe(401);
    });

    it('does not hand out expired commands, and shows them expired', async () => {
      const { w, b } = get();
      const issued = await w.json('POST', '/api/v1/commands', {
        key: w.org.keys.admin,
        body: { target: { kind: 'device', deviceId: 'b-1' }, args: { type: 'release' }, ttlSeconds: 10 },
      });
      w.clock.advance(11_000);
      const polled = await readJson(await signed(w, b, 'GET', `${SYNC_COMMANDS_PATH}?waitSeconds=0`));
      expect(polled.commands.map((c: { id: string }) => c.id)).not.toContain(issued.id);
      const view = await w.json('GET', `/api/v1/commands/${issued.id}`, { key: w.org.keys.viewer });
      expect(view.deliveries[0].state).toBe('expired');
    });

    it('accepts gzip batch bodies and refuses gzip bombs, broken gzip and unknown encodings', async () => {
      const { w, a } = get();
      const batch = a.batch(10, [device(w, 'a-9')]);
      const zipped = gzipSync(JSON.stringify(batch));
      const ok = await a.send(new Uint8Array(zipped), { headers: { 'content-encoding': 'gzip' } });
      expect(ok.status).toBe(200);
      expect(await readJson(ok)).toMatchObject({ ackedSequence: 10, duplicate: false });
      const bomb = gzipSync(Buffer.alloc(5 * 1024 * 1024, 0x20));
      const tooBig = await a.send(new Uint8Array(bomb), { headers: { 'content-encoding': 'gzip' } });
      expect(tooBig.status).toBe(413);
      const broken = await a.send(new Uint8Array(zipped.subarray(0, 20)), { headers: { 'content-encoding': 'gzip' } });
      expect(broken.status).toBe(400);
      const br = await a.send(new Uint8Array(zipped), { headers: { 'content-encoding': 'br' } });
      expect(br.status).toBe(415);
      expect(SYNC_BATCHES_PATH).toBe('/api/v1/sync/batches');
    });
  },
);
