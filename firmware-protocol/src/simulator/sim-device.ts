import { type Clock, describeError, type Logger, systemClock } from '@palisade/shared';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import {
  type CommandMessage,
  type CommandOutcome,
  decodeChallenge,
  decodeCommand,
  decodeResult,
  encodeCommandAck,
  encodeStatus,
  encodeTelemetry,
} from '../messages/messages.js';
import { topics } from '../messages/topics.js';
import { bootDevice, type DeviceState, rollBackDevice, saveDeviceState } from './device-state.js';
import { evidenceFor, garbagePayload, ROLLBACK_FIRMWARE_VERSION } from './evidence.js';
import type { FaultMode } from './faults.js';
import { firmwareImage, measureImage } from './firmware.js';

/**
 * One simulated board on the wire: an mqtt.js client speaking PROTOCOL.md §7 over TCP, TLS (its device certificate
 * and key as client credentials) or WebSocket. Client id = device id [FP-3.1-3]; last will = retained `offline`
 * status [FP-3.1-4]; answers challenges with evidence [FP-7.1-2]; sends telemetry; obeys commands [FP-4.5-2].
 */

export interface SimDeviceOptions {
  state: DeviceState;
  /** `mqtt://host:port`, `mqtts://…` (client certificate = the device's), `ws://…/path`, `wss://…`. */
  broker: string;
  fault?: FaultMode;
  /** Telemetry period; 0 sends none. */
  telemetryIntervalMs: number;
  /** Messages per second of a `flood` device. Default 500. */
  floodRateHz?: number;
  /** Trust anchors (PEM) for the broker's TLS certificate. */
  ca?: string;
  username?: string;
  password?: string;
  /** Reconnect delay after a lost connection. Default 1 000 ms. */
  reconnectPeriodMs?: number;
  clock?: Clock;
  logger?: Logger;
  onEvent?: (e: SimDeviceEvent) => void;
}

export type SimDeviceEvent =
  | { type: 'connected' | 'disconnected' | 'reboot'; deviceId: string }
  | { type: 'challenge'; deviceId: string; nonce: Uint8Array }
  | { type: 'evidence'; deviceId: string; nonce: Uint8Array; payload: Uint8Array }
  | { type: 'result'; deviceId: string; status: string; reasons: string[] }
  | { type: 'command'; deviceId: string; id: string; command: string; outcome: CommandOutcome };

export interface SimDeviceStats {
  connects: number;
  connected: boolean;
  challenges: number;
  evidenceSent: number;
  results: { affirming: number; warning: number; contraindicated: number; none: number };
  lastResult?: { status: string; reasons: string[] };
  telemetrySent: number;
  commands: { applied: number; rejected: number; expired: number };
  /** Messages from the gateway that did not decode. */
  badMessages: number;
  reboots: number;
}

/** [FP-10-2] Devices with a clock allow 60 s of skew when checking a command's expiry. */
const COMMAND_SKEW_MS = 60_000;
const FLOOD_TICK_MS = 10;

export class SimDevice {
  readonly stats: SimDeviceStats = {
    connects: 0,
    connected: false,
    challenges: 0,
    evidenceSent: 0,
    results: { affirming: 0, warning: 0, contraindicated: 0, none: 0 },
    telemetrySent: 0,
    commands: { applied: 0, rejected: 0, expired: 0 },
    badMessages: 0,
    reboots: 0,
  };
  private client: MqttClient | undefined;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private telemetryIntervalMs: number;
  private seq = 0;
  private readonly seenCommands = new Map<string, CommandOutcome>();
  /** `rollback` / `replay` act after their first result; this records that they have. */
  private faultActed = false;
  private stopped = false;
  private readonly clock: Clock;

  constructor(private readonly opts: SimDeviceOptions) {
    this.telemetryIntervalMs = opts.telemetryIntervalMs;
    this.clock = opts.clock ?? systemClock;
  }

  get state(): DeviceState {
    return this.opts.state;
  }

  get deviceId(): string {
    return this.opts.state.deviceId;
  }

  get fault(): FaultMode | undefined {
    return this.opts.fault;
  }

  /** Connects (the state's boot must already have happened: see {@link bootDevice}). */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    const s = this.opts.state;
    const options: IClientOptions = {
      clientId: s.deviceId,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1_000,
      connectTimeout: 10_000,
      // Telemetry is QoS 0 and worthless once stale: never queue it while offline.
      queueQoSZero: false,
      will: {
        topic: topics.status(s.deviceId),
        payload: Buffer.from(encodeStatus({ state: 'offline' })),
        qos: 1,
        retain: true,
      },
    };
    if (this.opts.username !== undefined) options.username = this.opts.username;
    if (this.opts.password !== undefined) options.password = this.opts.password;
    if (/^(mqtts|wss):/.test(this.opts.broker)) {
      options.key = s.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      options.cert = s.chainPem;
      if (this.opts.ca !== undefined) options.ca = this.opts.ca;
      options.rejectUnauthorized = true;
    }
    const client = mqtt.connect(this.opts.broker, options);
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => {
      if (this.client !== client) return;
      if (this.stats.connected) this.emit({ type: 'disconnected', deviceId: this.deviceId });
      this.stats.connected = false;
      this.stopTelemetry();
    });
    client.on('error', (e) => this.opts.logger?.debug({ deviceId: this.deviceId, err: describeError(e) }, 'mqtt'));
    client.on('message', (topic, payload) => this.onMessage(client, topic, new Uint8Array(payload)));
  }

  private onConnect(client: MqttClient): void {
    const id = this.deviceId;
    this.stats.connects++;
    this.stats.connected = true;
    // [FP-7.1] subscribe to the three gateway→device topics, then announce `online` (retained).
    client.subscribe([topics.challenge(id), topics.result(id), topics.command(id)], { qos: 1 }, (err) => {
      if (err !== null && err !== undefined) {
        // The connection went away mid-subscribe; mqtt.js reconnects and this runs again on the next `connect`.
        this.opts.logger?.debug({ deviceId: id, err: describeError(err) }, 'subscribe failed');
        return;
      }
      this.publishStatus(client);
      this.emit({ type: 'connected', deviceId: id });
      this.startTelemetry();
    });
  }

  private publishStatus(client: MqttClient): void {
    const s = this.opts.state;
    const payload = encodeStatus({
      state: 'online',
      firmwareVersion: s.firmwareVersion,
      boardFamily: s.family,
      bootCount: s.bootCount,
    });
    client.publish(topics.status(s.deviceId), Buffer.from(payload), { qos: 1, retain: true });
  }

  private onMessage(client: MqttClient, topic: string, payload: Uint8Array): void {
    const id = this.deviceId;
    try {
      if (topic === topics.challenge(id)) this.onChallenge(client, payload);
      else if (topic === topics.result(id)) this.onResult(payload);
      else if (topic === topics.command(id)) this.onCommand(client, payload);
    } catch (e) {
      this.stats.badMessages++;
      this.opts.logger?.debug({ deviceId: id, topic, err: describeError(e) }, 'refused message');
    }
  }

  private onChallenge(client: MqttClient, payload: Uint8Array): void {
    const challenge = decodeChallenge(payload);
    this.stats.challenges++;
    this.emit({ type: 'challenge', deviceId: this.deviceId, nonce: challenge.nonce });
    if (this.opts.fault === 'silent') return;
    const fault = this.opts.fault;
    const evidenceFault =
      fault === 'tampered-firmware' ||
      fault === 'wrong-key' ||
      fault === 'wrong-nonce' ||
      fault === 'malformed' ||
      fault === 'replay'
        ? fault
        : undefined;
    const ev = evidenceFor(this.opts.state, challenge.nonce, evidenceFault);
    client.publish(topics.evidence(this.deviceId), Buffer.from(ev.payload), { qos: 1 });
    this.stats.evidenceSent++;
    this.emit({ type: 'evidence', deviceId: this.deviceId, nonce: challenge.nonce, payload: ev.payload });
  }

  private onResult(payload: Uint8Array): void {
    const r = decodeResult(payload);
    this.stats.results[r.status]++;
    this.stats.lastResult = { status: r.status, reasons: r.reasons };
    this.emit({ type: 'result', deviceId: this.deviceId, status: r.status, reasons: r.reasons });
    if (this.faultActed) return;
    if (this.opts.fault === 'rollback') {
      // A reflash with a rewound counter (and, on STM32 whose PSA token has no counter, an older firmware build).
      this.faultActed = true;
      this.restart(() => {
        const s = this.opts.state;
        rollBackDevice(s);
        if (s.family === 'stm32') {
          s.firmwareVersion = ROLLBACK_FIRMWARE_VERSION;
          s.firmware = firmwareImage(s.family, s.firmwareVersion);
          s.measurement = measureImage(s.firmware);
          saveDeviceState(s);
        }
      });
    } else if (this.opts.fault === 'replay') {
      // Reconnect to be challenged again, then answer the new challenge with the first token.
      this.faultActed = true;
      this.restart(() => {});
    }
  }

  private onCommand(client: MqttClient, payload: Uint8Array): void {
    if (this.opts.fault === 'silent') return;
    const cmd = decodeCommand(payload);
    const previous = this.seenCommands.get(cmd.id);
    if (previous !== undefined) {
      // [FP-4.5-2] at most once: repeat the outcome, do not apply again.
      this.ack(client, cmd.id, previous, 'duplicate');
      return;
    }
    const outcome = this.apply(client, cmd);
    this.seenCommands.set(cmd.id, outcome.outcome);
    this.stats.commands[outcome.outcome]++;
    this.emit({ type: 'command', deviceId: this.deviceId, id: cmd.id, command: cmd.type, outcome: outcome.outcome });
    this.ack(client, cmd.id, outcome.outcome, outcome.detail, outcome.after);
  }

  private apply(
    client: MqttClient,
    cmd: CommandMessage,
  ): { outcome: CommandOutcome; detail?: string; after?: () => void } {
    if (this.clock.now() > cmd.expiresAt + COMMAND_SKEW_MS) return { outcome: 'expired' };
    switch (cmd.type) {
      case 're-attest':
        // [FP-7.3-3] publish status and wait for the challenge that follows; never send evidence unsolicited.
        this.publishStatus(client);
        return { outcome: 'applied' };
      case 'set-telemetry-interval': {
        const ms = cmd.args?.['intervalMs'];
        if (typeof ms !== 'number') return { outcome: 'rejected', detail: 'intervalMs missing' };
        this.telemetryIntervalMs = ms;
        this.startTelemetry();
        return { outcome: 'applied' };
      }
      case 'reboot':
        return { outcome: 'applied', after: () => this.reboot() };
    }
  }

  /** Publishes a command ack; `delivered` runs once the broker has it (PUBACK), e.g. to reboot only then. */
  private ack(client: MqttClient, id: string, outcome: CommandOutcome, detail?: string, delivered?: () => void): void {
    const payload =
      this.opts.fault === 'malformed'
        ? garbagePayload()
        : encodeCommandAck(detail === undefined ? { id, outcome } : { id, outcome, detail });
    client.publish(topics.commandAck(this.deviceId), Buffer.from(payload), { qos: 1 }, () => delivered?.());
  }

  /** A reboot: the connection drops, the boot counter goes up, a fresh seed, and the device connects again. */
  reboot(): void {
    this.restart(() => bootDevice(this.opts.state));
  }

  /**
   * Drops the connection the way a power cycle does (no DISCONNECT, so the broker publishes the last will), runs
   * `between`, connects again.
   */
  private restart(between: () => void): void {
    const old = this.client;
    this.client = undefined;
    this.stopTelemetry();
    this.stats.connected = false;
    const next = () => {
      if (this.stopped) return;
      between();
      this.seq = 0;
      this.stats.reboots++;
      this.emit({ type: 'reboot', deviceId: this.deviceId });
      this.connect();
    };
    if (old === undefined) next();
    else old.end(true, {}, next);
  }

  private startTelemetry(): void {
    this.stopTelemetry();
    if (this.opts.fault === 'flood') {
      const perTick = Math.max(1, Math.round(((this.opts.floodRateHz ?? 500) * FLOOD_TICK_MS) / 1000));
      this.telemetryTimer = setInterval(() => {
        for (let i = 0; i < perTick; i++) this.sendTelemetry();
      }, FLOOD_TICK_MS);
    } else if (this.telemetryIntervalMs > 0) {
      this.telemetryTimer = setInterval(() => this.sendTelemetry(), this.telemetryIntervalMs);
    }
  }

  private stopTelemetry(): void {
    if (this.telemetryTimer !== undefined) clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
  }

  private sendTelemetry(): void {
    const client = this.client;
    if (client === undefined || !client.connected || this.opts.fault === 'silent') return;
    const t = this.clock.now();
    const payload =
      this.opts.fault === 'malformed'
        ? garbagePayload()
        : encodeTelemetry({
            seq: this.seq,
            ts: t,
            values: {
              temperature: Math.round((21 + 3 * Math.sin(t / 60_000)) * 100) / 100,
              humidity: Math.round((45 + 5 * Math.cos(t / 90_000)) * 100) / 100,
              vcc: 3.3,
            },
          });
    this.seq = (this.seq + 1) % 0x1_0000_0000;
    client.publish(topics.telemetry(this.deviceId), Buffer.from(payload), { qos: 0 });
    this.stats.telemetrySent++;
  }

  /** Announces `offline` (retained) and disconnects cleanly. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTelemetry();
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    if (client.connected) {
      await client
        .publishAsync(topics.status(this.deviceId), Buffer.from(encodeStatus({ state: 'offline' })), {
          qos: 1,
          retain: true,
        })
        .catch(() => undefined);
    }
    // A clean DISCONNECT, so the broker discards the last will (the device said `offline` itself); forced if the
    // broker does not answer within 2 s.
    const clean = client.endAsync(false).catch(() => undefined);
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 2_000).unref());
    if ((await Promise.race([clean, timeout])) === 'timeout') await client.endAsync(true).catch(() => undefined);
    this.stats.connected = false;
  }

  private emit(e: SimDeviceEvent): void {
    this.opts.onEvent?.(e);
  }
}
