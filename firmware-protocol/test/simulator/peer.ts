import { generateKeyPairSync } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { buildAttestationResult, signAttestationResult, TRUST } from '../../src/ear/index.js';
import {
  type CommandAckMessage,
  type CommandMessage,
  decodeCommandAck,
  decodeStatus,
  decodeTelemetry,
  encodeChallenge,
  encodeCommand,
  encodeResult,
  newChallenge,
  type StatusMessage,
  type TelemetryMessage,
} from '../../src/messages/messages.js';
import { parseDeviceTopic, topics } from '../../src/messages/topics.js';
import { type AppraisalContext, appraise } from './appraise.js';

let peers = 0;

/**
 * A test peer in the gateway's seat: challenges every device that announces `online`, appraises its evidence with
 * the minimal checks of `appraise.ts`, and publishes a signed result, over a real MQTT connection. It is not the
 * gateway (that lives in `gateway/`); it is what the simulator talks to in firmware-protocol's own tests.
 */
export class TestPeer {
  readonly client: MqttClient;
  readonly statuses: { deviceId: string; status: StatusMessage }[] = [];
  readonly telemetry: { deviceId: string; t: number; msg: TelemetryMessage }[] = [];
  readonly acks: { deviceId: string; ack: CommandAckMessage }[] = [];
  readonly results: { deviceId: string; status: string; findings: string[]; bootCount?: number }[] = [];
  readonly undecodable: { deviceId: string; kind: string }[] = [];
  private readonly outstanding = new Map<string, Uint8Array>();
  private readonly key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  private constructor(
    client: MqttClient,
    readonly ctx: AppraisalContext,
  ) {
    this.client = client;
    client.on('message', (topic, payload) => void this.onMessage(topic, new Uint8Array(payload)));
  }

  static async connect(url: string, ctx: AppraisalContext): Promise<TestPeer> {
    const client = await mqtt.connectAsync(url, {
      clientId: `test-peer-${++peers}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const peer = new TestPeer(client, ctx);
    await client.subscribeAsync(
      ['status', 'evidence', 'command-ack', 'telemetry'].map((k) => topics.allDevices(k as 'status')),
      { qos: 1 },
    );
    return peer;
  }

  private async onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const t = parseDeviceTopic(topic);
    // Only this test's fleet: other tests' devices share the broker.
    if (t === null || !this.ctx.registered.has(t.deviceId)) return;
    const { deviceId, kind } = t;
    try {
      if (kind === 'status') {
        if (payload.length === 0) return;
        const status = decodeStatus(payload);
        this.statuses.push({ deviceId, status });
        if (status.state === 'online') this.challenge(deviceId);
      } else if (kind === 'telemetry') {
        this.telemetry.push({ deviceId, t: Date.now(), msg: decodeTelemetry(payload) });
      } else if (kind === 'command-ack') {
        this.acks.push({ deviceId, ack: decodeCommandAck(payload) });
      } else if (kind === 'evidence') {
        await this.onEvidence(deviceId, payload);
      }
    } catch {
      this.undecodable.push({ deviceId, kind });
    }
  }

  challenge(deviceId: string): void {
    const ch = newChallenge({ now: Date.now(), reason: 'connect' });
    this.outstanding.set(deviceId, ch.nonce);
    this.client.publish(topics.challenge(deviceId), Buffer.from(encodeChallenge(ch)), { qos: 1 });
  }

  private async onEvidence(deviceId: string, payload: Uint8Array): Promise<void> {
    const nonce = this.outstanding.get(deviceId);
    if (nonce === undefined) return;
    const { findings, claims } = appraise(this.ctx, deviceId, nonce, payload);
    if (findings.length > 0 && findings[0]!.match(/^(cbor|message)\./)) {
      this.undecodable.push({ deviceId, kind: 'evidence' });
      this.results.push({ deviceId, status: 'undecodable', findings });
      return;
    }
    const reasons = findings.map((f) => (f.includes('.') ? f : `appraisal.${f}`));
    const vector =
      findings.length === 0
        ? { 'instance-identity': TRUST['instance-identity'].trustworthy, executables: TRUST.executables.approvedBoot }
        : { 'instance-identity': TRUST['instance-identity'].untrustworthy };
    const ear = await signAttestationResult(
      buildAttestationResult({
        gatewayId: 'test-peer',
        deviceId,
        resultId: `r${this.results.length}`,
        appraisedAt: Date.now(),
        nonce,
        vector,
        reasons,
      }),
      { privateKey: this.key, kid: 'peer' },
    );
    const status = findings.length === 0 ? 'affirming' : 'contraindicated';
    const row: TestPeer['results'][number] = { deviceId, status, findings };
    if (claims?.bootCount !== undefined) row.bootCount = claims.bootCount;
    this.results.push(row);
    const msg = encodeResult({ nonce, status, reasons, ear });
    this.client.publish(topics.result(deviceId), Buffer.from(msg), { qos: 1 });
  }

  command(deviceId: string, cmd: CommandMessage): void {
    this.client.publish(topics.command(deviceId), Buffer.from(encodeCommand(cmd)), { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!pred()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
