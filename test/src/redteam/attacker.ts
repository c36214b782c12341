/**
 * A hostile device for the red-team tests: it holds a real device identity (key and certificate from the simulator's
 * manufacturer PKI) but speaks MQTT by hand, so each test can bend one thing — the evidence, the topic, the client
 * id, the nonce — and watch what the gateway does with it over real sockets.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { BoardFamily } from '@palisade/firmware-protocol';
import {
  type ChallengeMessage,
  createPalisadeEvidence,
  createPsaEvidence,
  decodeChallenge,
  decodeResult,
  encodeEvidenceMessage,
  encodeStatus,
  type ResultMessage,
  type Signer,
  signerFromPrivateKey,
  topics,
} from '@palisade/firmware-protocol';
import {
  createDeviceState,
  type DeviceState,
  firmwareImage,
  implementationIdOf,
  loadPki,
  measurementsOf,
  PSA_LIFECYCLE_SECURED,
} from '@palisade/firmware-protocol/simulator';
import type { GatewayHandle } from '@palisade/gateway';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** A provisioned device of the simulator's PKI (its own state dir, so tests never collide). */
export async function provision(
  stateDir: string,
  simDir: string,
  deviceId: string,
  family: BoardFamily,
  opts: { expired?: boolean; keyType?: 'p256' | 'ed25519' } = {},
): Promise<DeviceState> {
  return createDeviceState({
    stateDir,
    pki: loadPki(simDir),
    deviceId,
    family,
    ...(opts.keyType === undefined ? {} : { keyType: opts.keyType }),
    ...(opts.expired === true ? { expired: true } : {}),
  });
}

export interface TlsIdentity {
  keyPem: string;
  certPem: string;
}

export function identityOf(state: DeviceState): TlsIdentity {
  return { keyPem: state.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: state.chainPem };
}

/** mqtt.js over mTLS to the gateway; never reconnects by itself. Resolves on CONNACK 0, rejects otherwise. */
export function connectTls(
  gw: GatewayHandle,
  identity: TlsIdentity | undefined,
  options: IClientOptions,
): Promise<MqttClient> {
  const client = mqtt.connect(`mqtts://127.0.0.1:${gw.ports.mqtts}`, {
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    protocolVersion: 4,
    clean: true,
    ca: gw.identity.caCertPem,
    rejectUnauthorized: true,
    ...(identity === undefined ? {} : { key: identity.keyPem, cert: identity.certPem }),
    ...options,
  });
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

/** The CONNACK refusal of a connection attempt (the error's `code`), or 'connected'. */
export async function connectOutcome(
  gw: GatewayHandle,
  identity: TlsIdentity | undefined,
  options: IClientOptions,
): Promise<string | number> {
  try {
    const c = await connectTls(gw, identity, options);
    await c.endAsync(true);
    return 'connected';
  } catch (e) {
    return (e as { code?: number | string }).code ?? (e as Error).message;
  }
}

function waitFor<T>(list: T[], pick: (x: T) => boolean, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      const i = list.findIndex(pick);
      if (i >= 0) return resolve(list.splice(i, 1)[0] as T);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** A device-shaped MQTT session: subscribed to its challenge/result topics, recording what it receives. */
export class Attacker {
  readonly challenges: ChallengeMessage[] = [];
  readonly results: ResultMessage[] = [];
  readonly received: { topic: string; payload: Buffer }[] = [];
  readonly signer: Signer;
  private constructor(
    readonly state: DeviceState,
    readonly client: MqttClient,
  ) {
    this.signer = signerFromPrivateKey(state.privateKey);
    client.on('message', (topic, payload) => {
      this.received.push({ topic, payload });
      try {
        if (topic === topics.challenge(state.deviceId)) this.challenges.push(decodeChallenge(new Uint8Array(payload)));
        if (topic === topics.result(state.deviceId)) this.results.push(decodeResult(new Uint8Array(payload)));
      } catch {
        // a test that cares looks at `received`
      }
    });
  }

  get id(): string {
    return this.state.deviceId;
  }

  /** Connects as `state` (or with another TLS identity / client id), subscribes, and announces `online`. */
  static async connect(
    gw: GatewayHandle,
    state: DeviceState,
    opts: { identity?: TlsIdentity; mqtt?: IClientOptions; online?: boolean } = {},
  ): Promise<Attacker> {
    const client = await connectTls(gw, opts.identity ?? identityOf(state), {
      clientId: state.deviceId,
      ...opts.mqtt,
    });
    const a = new Attacker(state, client);
    const id = state.deviceId;
    await client.subscribeAsync([topics.challenge(id), topics.result(id), topics.command(id)], { qos: 1 });
    if (opts.online !== false) {
      await client.publishAsync(
        topics.status(id),
        Buffer.from(encodeStatus({ state: 'online', boardFamily: state.family, firmwareVersion: '1.0.0' })),
        { qos: 1, retain: true },
      );
    }
    return a;
  }

  challenge(ms = 5_000): Promise<ChallengeMessage> {
    return waitFor(this.challenges, () => true, ms, `challenge for ${this.id}`);
  }

  result(nonce: Uint8Array, ms = 5_000): Promise<ResultMessage> {
    const hex = Buffer.from(nonce).toString('hex');
    return waitFor(this.results, (r) => Buffer.from(r.nonce).toString('hex') === hex, ms, `result for ${this.id}`);
  }

  /** Honest evidence of this device for `nonce`, with optional changes to claims and signing. */
  token(
    nonce: Uint8Array,
    bend: {
      signer?: Signer;
      x5chain?: Uint8Array[] | null;
      bootCount?: number;
      bootSeed?: Uint8Array;
      deviceId?: string;
      ueid?: Uint8Array;
      /** Claim (and measure) this firmware version instead of the device's. */
      version?: string;
    } = {},
  ): Uint8Array {
    const s = this.state;
    const signer = bend.signer ?? this.signer;
    const version = bend.version ?? s.firmwareVersion;
    const image = bend.version === undefined ? s.firmware : firmwareImage(s.family, version);
    const measurements = measurementsOf(s.family, version, image);
    if (s.family === 'stm32') {
      return createPsaEvidence(
        {
          nonce,
          instanceId: bend.ueid ?? s.ueid,
          implementationId: implementationIdOf(s.family),
          bootSeed: bend.bootSeed ?? s.bootSeed,
          lifecycle: PSA_LIFECYCLE_SECURED,
          clientId: -1,
          measurements,
          profile: 'psa-2',
        },
        signer,
      );
    }
    return createPalisadeEvidence(
      {
        nonce,
        ueid: bend.ueid ?? s.ueid,
        deviceId: bend.deviceId ?? s.deviceId,
        boardFamily: s.family,
        firmwareVersion: version,
        measurements,
        bootCount: bend.bootCount ?? s.bootCount,
        bootSeed: bend.bootSeed ?? s.bootSeed,
      },
      signer,
      bend.x5chain === null ? {} : { x5chain: bend.x5chain ?? s.chain },
    );
  }

  /** Publishes an evidence message carrying `token` for `nonce` on this device's evidence topic. */
  async sendEvidence(nonce: Uint8Array, token: Uint8Array): Promise<void> {
    const format = this.state.family === 'stm32' ? 'psa' : 'palisade-eat';
    await this.client.publishAsync(
      topics.evidence(this.id),
      Buffer.from(encodeEvidenceMessage({ nonce, token, format })),
      {
        qos: 1,
      },
    );
  }

  /** Waits for a challenge, answers it with honest evidence, returns the result. */
  async attest(): Promise<ResultMessage> {
    const c = await this.challenge();
    await this.sendEvidence(c.nonce, this.token(c.nonce));
    return this.result(c.nonce);
  }

  end(): Promise<void> {
    return this.client.endAsync(true);
  }
}

export function randomNonce(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** A TLS socket to the gateway's mqtts port with an optional client identity, for raw MQTT bytes. */
export function rawTls(gw: GatewayHandle, identity?: TlsIdentity): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port: gw.ports.mqtts as number,
      ca: gw.identity.caCertPem,
      rejectUnauthorized: true,
      ...(identity === undefined ? {} : { key: identity.keyPem, cert: identity.certPem }),
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket closes (with the bytes it received), or after `ms` with `open: true`. */
export function closedWithin(s: Socket, ms: number): Promise<{ open: boolean; data: Buffer }> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  s.on('error', () => {});
  return new Promise((resolve) => {
    if (s.destroyed) return resolve({ open: false, data: Buffer.concat(chunks) });
    const t = setTimeout(() => resolve({ open: true, data: Buffer.concat(chunks) }), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve({ open: false, data: Buffer.concat(chunks) });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` until it is true (or throws after `ms`). */
export async function until(what: string, f: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
