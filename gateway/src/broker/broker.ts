import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { finished } from 'node:stream';
import { createServer as createTlsServer, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { isDeviceId, silentLogger, systemClock } from '@palisade/shared';
import { Aedes, type AuthenticateError, type Client, type Connection, type PublishPacket } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { LeafInfo, VerifyChainResult } from '../pki/index.js';
import { authorizeDevicePublish, authorizeDeviceSubscribe, compileRulesFor, validateAclRules } from './acl.js';
import { ClientCertificateVerifier } from './client-certificates.js';
import { ConnectionRateLimiter, limitPacketSize, resolveLimits, TokenBucket } from './limits.js';
import { type BrokerMetrics, createBrokerMetrics } from './metrics.js';
import { verifyPassword } from './passwords.js';
import type {
  Broker,
  BrokerMessage,
  BrokerOptions,
  DeviceConnectionInfo,
  IdentityConflict,
  ListenerOptions,
  PublishGateDecision,
  Transport,
} from './types.js';

/**
 * The gateway's MQTT broker: aedes behind three listeners (TCP, TLS with client certificates, WebSocket), with
 * device identity, topic authorisation and abuse limits. The gateway core talks to it through hooks; the broker
 * itself stores nothing.
 */

interface ConnContext {
  address: string;
  transport: Transport;
  /** Started at TLS handshake completion when the peer sent a certificate. */
  certificate?: Promise<VerifyChainResult>;
  /** The peer's certificate (DER) and the chain it sent, re-validated when the trust material changes. */
  presented?: { leaf: Uint8Array; chain: Uint8Array[] };
}

interface Session {
  info: DeviceConnectionInfo;
  client: Client;
  rules: ReturnType<typeof compileRulesFor>;
  bucket: TokenBucket;
  connected: boolean;
  presented?: { leaf: Uint8Array; chain: Uint8Array[] };
  /** Re-validates the presented chain when its validity ends (see `armExpiry`). */
  expiry?: NodeJS.Timeout;
}

/** setTimeout's longest delay; a later expiry is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** CONNACK return codes of MQTT 3.1.1 §3.2.2.3. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

/** A stored hash of a random password, verified when the username is unknown so timing does not reveal it. */
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

class AuthRefusal extends Error {
  constructor(
    readonly reason: string,
    readonly returnCode: number,
  ) {
    super(reason);
  }
}

export async function createBroker(opts: BrokerOptions): Promise<Broker> {
  const log = (opts.logger ?? silentLogger).child({ module: 'broker' });
  const clock = opts.clock ?? systemClock;
  const limits = resolveLimits(opts.limits);
  const aclRules = opts.acl ?? [];
  validateAclRules(aclRules);
  const hooks = opts.hooks ?? {};
  const metrics: BrokerMetrics | undefined = opts.metrics === undefined ? undefined : createBrokerMetrics(opts.metrics);
  const certificates = new ClientCertificateVerifier(
    {
      roots: opts.roots ?? [],
      ...(opts.intermediates === undefined ? {} : { intermediates: opts.intermediates }),
      ...(opts.crls === undefined ? {} : { crls: opts.crls }),
    },
    opts.clientCertificateEku ?? [],
    clock,
  );
  if (opts.allowAnonymous) {
    log.warn({ allowAnonymous: true }, 'anonymous MQTT access is enabled: lab use only, devices are not authenticated');
  }

  const connections = new WeakMap<Connection, ConnContext>();
  const sessionsByClient = new WeakMap<Client, Session>();
  const sessions = new Map<string, Session>();
  const emptyClientIds = new WeakSet<Client>();
  /** Authorised device publishes waiting for aedes to accept them (same packet object in its 'publish' event). */
  const accepted = new WeakMap<PublishPacket, BrokerMessage>();
  const connectionLimiter = new ConnectionRateLimiter(limits.connectionsPerAddressPerMinute, clock);
  const sockets = new Set<Socket>();

  const aedes = await Aedes.createBroker({
    connectTimeout: limits.connectTimeoutMs,
    maxInflightInbound: limits.maxInflight,
    maxClientsIdLength: 64,
  });

  function safely(name: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      log.error({ hook: name, err: (e as Error).message }, 'broker hook threw');
    }
  }

  function authFailed(ctx: ConnContext, clientId: string, reason: string): void {
    metrics?.authFailures.inc({ reason });
    log.info(
      { address: ctx.address, clientId: clientId.slice(0, 80), transport: ctx.transport, reason },
      'auth refused',
    );
    const failure = { address: ctx.address, clientId: clientId.slice(0, 80), transport: ctx.transport, reason };
    safely('onAuthFailure', () => hooks.onAuthFailure?.(failure));
  }

  // --- connection admission -------------------------------------------------------------------------------------

  function admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    if (!connectionLimiter.admit(address)) {
      metrics?.rateLimited.inc({ kind: 'connection' });
      log.info({ address }, 'connection rate limit exceeded');
      socket.destroy();
      return false;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return true;
  }

  function handle(conn: Connection, ctx: ConnContext, req?: IncomingMessage): void {
    connections.set(conn, ctx);
    metrics?.connections.inc({ transport: ctx.transport });
    const client = req === undefined ? aedes.handle(conn) : aedes.handle(conn, req);
    const limited = limitPacketSize(client, limits.maxPacketSize, (length) => {
      metrics?.oversized.inc();
      log.info({ address: ctx.address, length }, 'oversized MQTT packet: connection closed');
      conn.destroy();
    });
    if (!limited) {
      log.error({}, 'cannot install the MQTT packet size limit (mqtt-packet parser changed): connection refused');
      conn.destroy();
    }
  }

  // --- authentication -------------------------------------------------------------------------------------------

  aedes.preConnect = (client, packet, done) => {
    // MQTT 3.1.1 §3.1.3: a zero-length client id with CleanSession=0 MUST be answered with CONNACK 0x02
    // [MQTT-3.1.3-8]. Aedes would invent an id instead; we refuse every empty id, since the client id must equal
    // the device identity. Flagged here, answered in authenticate() so the client gets the proper CONNACK.
    if (packet.clientId === '') emptyClientIds.add(client);
    done(null, true);
  };

  async function identify(
    client: Client,
    ctx: ConnContext,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<{
    deviceId: string;
    authMethod: DeviceConnectionInfo['authMethod'];
    cert?: LeafInfo;
    /** End of the validated path's validity (ms): the session must not outlive it. */
    validUntil?: number;
    groups?: readonly string[];
  }> {
    if (emptyClientIds.has(client)) throw new AuthRefusal('auth.empty_client_id', IDENTIFIER_REJECTED);
    if (ctx.certificate !== undefined) {
      // A presented certificate decides alone: an invalid one is never rescued by a password.
      const r = await ctx.certificate;
      if (!r.valid || r.leaf === undefined) throw new AuthRefusal(r.reason, NOT_AUTHORIZED);
      const candidates = [r.leaf.commonName, ...r.leaf.altNames];
      const deviceId = candidates.find((c) => isDeviceId(c));
      if (deviceId === undefined) throw new AuthRefusal('auth.no_device_identity', NOT_AUTHORIZED);
      return r.validity === undefined
        ? { deviceId, authMethod: 'certificate', cert: r.leaf }
        : { deviceId, authMethod: 'certificate', cert: r.leaf, validUntil: r.validity.notAfter.getTime() };
    }
    if (username !== undefined || password !== undefined) {
      if (opts.credentials === undefined || username === undefined || password === undefined) {
        throw new AuthRefusal('auth.bad_credentials', BAD_USERNAME_OR_PASSWORD);
      }
      const cred = username.length <= 128 ? await opts.credentials(username) : undefined;
      const ok = await verifyPassword(password, cred?.passwordHash ?? DUMMY_HASH);
      if (cred === undefined || !ok) throw new AuthRefusal('auth.bad_credentials', BAD_USERNAME_OR_PASSWORD);
      return cred.groups === undefined
        ? { deviceId: cred.deviceId, authMethod: 'password' }
        : { deviceId: cred.deviceId, authMethod: 'password', groups: cred.groups };
    }
    if (opts.allowAnonymous) return { deviceId: client.id, authMethod: 'anonymous' };
    throw new AuthRefusal('auth.no_credentials', NOT_AUTHORIZED);
  }

  /** Authenticates, binds the client id, asks the registry, and reserves the identity; throws AuthRefusal. */
  async function admitDevice(
    client: Client,
    ctx: ConnContext,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<void> {
    const id = await identify(client, ctx, username, password);
    if (!isDeviceId(id.deviceId) || client.id !== id.deviceId) {
      // [FP-3.1-3]: the MQTT client id is the device identity, so one device cannot speak as another.
      throw new AuthRefusal('auth.client_id_mismatch', IDENTIFIER_REJECTED);
    }
    const info: DeviceConnectionInfo = {
      deviceId: id.deviceId,
      clientId: client.id,
      address: ctx.address,
      transport: ctx.transport,
      authMethod: id.authMethod,
    };
    if (id.cert !== undefined) info.certificate = id.cert;
    if (id.cert !== undefined && ctx.presented !== undefined) {
      info.certificateChain = [ctx.presented.leaf, ...ctx.presented.chain];
    }
    if (hooks.authorizeDevice !== undefined) {
      const verdict = await hooks.authorizeDevice(info);
      if (verdict !== true) {
        throw new AuthRefusal(typeof verdict === 'string' ? verdict : 'auth.device_refused', NOT_AUTHORIZED);
      }
    }
    // From here to the reservation nothing awaits, so two simultaneous connections cannot both pass.
    const existing = sessions.get(id.deviceId);
    if (existing !== undefined) {
      const conflict: IdentityConflict = {
        deviceId: id.deviceId,
        existing: {
          clientId: existing.info.clientId,
          address: existing.info.address,
          transport: existing.info.transport,
        },
        incoming: { clientId: client.id, address: ctx.address, transport: ctx.transport },
      };
      log.warn(conflict as unknown as Record<string, unknown>, 'identity already connected: possible clone');
      safely('onIdentityConflict', () => hooks.onIdentityConflict?.(conflict));
      throw new AuthRefusal('auth.identity_in_use', IDENTIFIER_REJECTED);
    }
    const groups = id.groups ?? opts.deviceGroups?.(id.deviceId) ?? [];
    const session: Session = {
      info,
      client,
      rules: compileRulesFor(aclRules, id.deviceId, groups),
      bucket: new TokenBucket(limits.messagesPerSecondPerDevice, limits.messageBurst, clock),
      connected: false,
    };
    if (id.cert !== undefined && ctx.presented !== undefined) session.presented = ctx.presented;
    sessions.set(id.deviceId, session);
    sessionsByClient.set(client, session);
    if (id.validUntil !== undefined) armExpiry(session, id.validUntil);
    finished(client.conn, () => release(session));
  }

  aedes.authenticate = (client, username, password, done) => {
    const ctx = connections.get(client.conn);
    if (ctx === undefined) {
      done(Object.assign(new Error('unknown connection'), { returnCode: NOT_AUTHORIZED }) as AuthenticateError, false);
      return;
    }
    admitDevice(client, ctx, username, password)
      .then(() => done(null, true))
      .catch((e: unknown) => {
        const refusal = e instanceof AuthRefusal ? e : new AuthRefusal('auth.internal', NOT_AUTHORIZED);
        if (!(e instanceof AuthRefusal)) log.error({ err: (e as Error).message }, 'authentication failed internally');
        authFailed(ctx, client.id ?? '', refusal.reason);
        done(Object.assign(new Error(refusal.reason), { returnCode: refusal.returnCode }) as AuthenticateError, false);
      });
  };

  /**
   * A certificate that expires while its device is connected (the device's own, an intermediate's or the root's)
   * must end the session then, not at the next reconnect, which a device may put off for months.
   */
  function armExpiry(session: Session, validUntil: number): void {
    if (session.expiry !== undefined) clearTimeout(session.expiry);
    // notAfter is inclusive: re-validate just after it.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, validUntil - clock.now() + 1_000));
    session.expiry = setTimeout(() => {
      session.expiry = undefined;
      recheck(session, 'client certificate no longer valid during the session: disconnected');
    }, delay);
    session.expiry.unref();
  }

  /** Re-validates a session's presented chain now; closes the session if it no longer validates. */
  function recheck(session: Session, message: string): void {
    const presented = session.presented;
    if (presented === undefined) return;
    void certificates.verify(presented.leaf, presented.chain).then((r) => {
      if (sessions.get(session.info.deviceId) !== session) return;
      if (r.valid) {
        if (r.validity !== undefined) armExpiry(session, r.validity.notAfter.getTime());
        return;
      }
      log.warn({ deviceId: session.info.deviceId, reason: r.reason }, message);
      metrics?.authFailures.inc({ reason: r.reason });
      session.client.close();
    });
  }

  function release(session: Session): void {
    if (session.expiry !== undefined) clearTimeout(session.expiry);
    session.expiry = undefined;
    if (sessions.get(session.info.deviceId) === session) sessions.delete(session.info.deviceId);
    if (session.connected) {
      session.connected = false;
      metrics?.connected.dec();
      safely('onDeviceDisconnected', () => hooks.onDeviceDisconnected?.(session.info));
    }
  }

  aedes.on('clientReady', (client) => {
    const session = sessionsByClient.get(client);
    if (session === undefined || session.connected || sessions.get(session.info.deviceId) !== session) return;
    session.connected = true;
    metrics?.connected.inc();
    log.info({ deviceId: session.info.deviceId, transport: session.info.transport }, 'device connected');
    safely('onDeviceConnected', () => hooks.onDeviceConnected?.(session.info));
  });

  // --- authorisation (hot path: synchronous, no parsing beyond the topic split) ----------------------------------

  function deny(session: Session, action: 'publish' | 'subscribe', topic: string, reason: string): void {
    metrics?.denied.inc({ action, reason });
    const denied = { deviceId: session.info.deviceId, action, topic: topic.slice(0, 256), reason };
    safely('onAccessDenied', () => hooks.onAccessDenied?.(denied));
  }

  aedes.authorizePublish = (client, packet, done) => {
    // client is null only for a will published after its client is gone; it was authorised at connect.
    if (client === null) return done(null);
    const session = sessionsByClient.get(client);
    if (session === undefined) return done(new Error('auth.no_session'));
    if (!session.bucket.take()) {
      metrics?.rateLimited.inc({ kind: 'message' });
      deny(session, 'publish', packet.topic, 'limit.message_rate');
      return done(new Error('limit.message_rate'));
    }
    const decision = authorizeDevicePublish(session.info.deviceId, session.rules, packet.topic);
    if (!decision.ok) {
      deny(session, 'publish', packet.topic, decision.reason);
      return done(new Error(decision.reason));
    }
    if (hooks.isPublishAllowed !== undefined) {
      let gate: PublishGateDecision;
      try {
        gate = hooks.isPublishAllowed(session.info.deviceId, decision.kind);
      } catch (e) {
        log.error({ err: (e as Error).message }, 'isPublishAllowed threw: publish refused');
        gate = 'gate.error';
      }
      if (typeof gate === 'object') {
        // Acknowledged (QoS 1/2 complete normally) but never handed on: the device stays connected and can attest.
        deny(session, 'publish', packet.topic, gate.discard);
        packet.retain = false; // nothing of a discarded publish may outlive it
        return done(null);
      }
      if (gate !== true) {
        const reason = typeof gate === 'string' ? gate : 'gate.refused';
        deny(session, 'publish', packet.topic, reason);
        return done(new Error(reason));
      }
    }
    metrics?.messages(decision.kind).inc();
    if (hooks.onMessage !== undefined) {
      // Handed on only once aedes has accepted the packet (the 'publish' event below): a QoS 2 retransmission of a
      // message id already received, or a QoS 2 packet beyond the in-flight window, is authorised first and then
      // dropped by aedes, and must not reach the gateway twice or at all (MQTT 3.1.1 §4.3.3).
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const message: BrokerMessage = {
        deviceId: session.info.deviceId,
        topic: packet.topic,
        kind: decision.kind,
        payload,
        qos: packet.qos,
        retain: packet.retain,
      };
      accepted.set(packet, message);
    }
    done(null);
  };

  aedes.on('publish', (packet) => {
    const message = accepted.get(packet);
    if (message === undefined) return;
    accepted.delete(packet);
    safely('onMessage', () => hooks.onMessage?.(message));
  });

  aedes.authorizeSubscribe = (client, sub, done) => {
    const session = sessionsByClient.get(client);
    if (session === undefined) return done(null, null);
    const decision = authorizeDeviceSubscribe(session.info.deviceId, session.rules, sub.topic);
    if (!decision.ok) {
      deny(session, 'subscribe', sub.topic, decision.reason);
      // A null subscription is answered with SUBACK 0x80 (failure), MQTT 3.1.1 §3.9.3.
      return done(null, null);
    }
    done(null, sub);
  };

  aedes.on('clientError', (client, err) => {
    log.debug({ clientId: client.id, err: err.message }, 'client error');
  });
  aedes.on('connectionError', (client, err) => {
    log.debug({ clientId: client.id, err: err.message }, 'connection error');
  });

  // --- listeners ------------------------------------------------------------------------------------------------

  const servers: (NetServer | HttpServer)[] = [];
  const ports: { mqtt?: number; mqtts?: number; ws?: number } = {};
  let wss: WebSocketServer | undefined;

  async function listen(server: NetServer | HttpServer, o: ListenerOptions): Promise<number> {
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  try {
    if (opts.listeners.mqtt !== undefined) {
      const server = createNetServer((socket) => {
        if (admit(socket)) handle(socket, { address: socket.remoteAddress ?? 'unknown', transport: 'mqtt' });
      });
      ports.mqtt = await listen(server, opts.listeners.mqtt);
    }

    if (opts.listeners.mqtts !== undefined) {
      const t = opts.listeners.mqtts;
      const server = createTlsServer({
        key: t.key,
        cert: t.cert,
        ca: t.ca ?? (opts.roots !== undefined && opts.roots.length > 0 ? opts.roots : undefined),
        // The TLS stack only asks for the certificate; our RFC 5280 validator decides (roots, CRLs, EKU, depth).
        requestCert: true,
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        handshakeTimeout: limits.connectTimeoutMs,
      });
      server.on('connection', (socket: Socket) => {
        admit(socket);
      });
      server.on('secureConnection', (socket: TLSSocket) => {
        const ctx: ConnContext = { address: socket.remoteAddress ?? 'unknown', transport: 'mqtts' };
        // getPeerCertificate(true) first: calling getPeerX509Certificate() before it drops the issuer chain.
        const peer = socket.getPeerCertificate(true);
        if (peer?.raw !== undefined) {
          ctx.presented = { leaf: new Uint8Array(peer.raw), chain: peerChain(peer) };
          ctx.certificate = certificates.verify(ctx.presented.leaf, ctx.presented.chain);
        }
        handle(socket, ctx);
      });
      server.on('tlsClientError', (err, socket) => {
        log.debug({ address: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
        // With a listener attached, Node leaves the socket open (a handshake timeout included): a peer that never
        // sends a ClientHello would hold its socket for good.
        socket.destroy();
      });
      ports.mqtts = await listen(server, t);
    }

    if (opts.listeners.ws !== undefined) {
      const w = opts.listeners.ws;
      const server = createHttpServer(
        {
          // Node enforces headersTimeout only when it sweeps its connections (every 30 s by default), which would
          // let a silent peer outlast a short connect timeout many times over.
          connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(limits.connectTimeoutMs / 4))),
        },
        (_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
        },
      );
      server.headersTimeout = limits.connectTimeoutMs;
      server.on('connection', (socket: Socket) => {
        admit(socket);
      });
      wss = new WebSocketServer({
        server,
        ...(w.path === undefined ? {} : { path: w.path }),
        maxPayload: limits.maxPacketSize + 8,
        handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
      });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        stream.on('error', () => stream.destroy());
        handle(stream, { address: req.socket.remoteAddress ?? 'unknown', transport: 'ws' }, req);
      });
      ports.ws = await listen(server, w);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  /** Certificates the client sent after its leaf (bounded; the validator bounds the total again). */
  function peerChain(leaf: DetailedPeerCertificate): Uint8Array[] {
    const out: Uint8Array[] = [];
    let c = leaf;
    const seen = new Set<unknown>([c]);
    while (c.issuerCertificate !== undefined && !seen.has(c.issuerCertificate) && out.length < 4) {
      c = c.issuerCertificate;
      seen.add(c);
      if (c.raw !== undefined) out.push(new Uint8Array(c.raw));
    }
    return out;
  }

  async function closeAll(): Promise<void> {
    wss?.close();
    for (const s of servers) s.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  const onlyDevice = (deviceId: string): Session | undefined => {
    const s = sessions.get(deviceId);
    return s?.connected ? s : undefined;
  };

  log.info({ ports }, 'broker listening');

  return {
    ports,
    publish(topic, payload, o = {}) {
      const packet: PublishPacket = {
        cmd: 'publish',
        topic,
        payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload),
        qos: o.qos ?? 0,
        retain: o.retain ?? false,
        dup: false,
      };
      return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
    },
    disconnect(deviceId) {
      const s = onlyDevice(deviceId);
      if (s === undefined) return false;
      s.client.close();
      return true;
    },
    connectedDevices() {
      return [...sessions.values()].filter((s) => s.connected).map((s) => s.info);
    },
    updateTrust(trust) {
      certificates.update(trust);
      log.info({ roots: trust.roots.length, crls: trust.crls?.length ?? 0 }, 'client trust material replaced');
      // A certificate revoked (or no longer chaining) under the new material must not keep its open session.
      for (const s of sessions.values()) recheck(s, 'client certificate no longer valid: disconnected');
    },
    close: closeAll,
  };
}

// The contract types, for modules that import them from the broker itself.
export type * from './types.js';
