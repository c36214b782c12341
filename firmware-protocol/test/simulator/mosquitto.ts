import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real mosquitto broker as a child process on ephemeral ports, for the simulator's wire tests. */
export const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
if (MOSQUITTO === undefined) console.warn('mosquitto not installed: skipping the simulator MQTT tests');

export interface Broker {
  tcpUrl: string;
  wsUrl: string;
  tlsUrl?: string;
  stop(): Promise<void>;
}

/** A free port: the kernel picks one for a throw-away listener, which is closed before mosquitto binds it. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TlsListener {
  /** CA file that verifies client certificates (the manufacturer root). */
  caPem: string;
  /** Server certificate chain (leaf first) and key. */
  certPem: string;
  keyPem: string;
}

export async function startMosquitto(opts: { tls?: TlsListener } = {}): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-mosq-'));
  // Started as root, mosquitto drops to its own user: it must be able to read the config and the TLS files.
  chmodSync(dir, 0o755);
  const tcp = await freePort();
  const ws = await freePort();
  const lines = [
    'per_listener_settings true',
    `listener ${tcp} 127.0.0.1`,
    'allow_anonymous true',
    `listener ${ws} 127.0.0.1`,
    'protocol websockets',
    'allow_anonymous true',
  ];
  let tls: number | undefined;
  if (opts.tls !== undefined) {
    tls = await freePort();
    writeFileSync(join(dir, 'ca.pem'), opts.tls.caPem);
    writeFileSync(join(dir, 'server.pem'), opts.tls.certPem);
    writeFileSync(join(dir, 'server.key'), opts.tls.keyPem, { mode: 0o644 });
    lines.push(
      `listener ${tls} 127.0.0.1`,
      `cafile ${join(dir, 'ca.pem')}`,
      `certfile ${join(dir, 'server.pem')}`,
      `keyfile ${join(dir, 'server.key')}`,
      'require_certificate true',
      'use_identity_as_username true',
      'allow_anonymous false',
    );
  }
  writeFileSync(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
  const child = spawn(MOSQUITTO!, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(tcp, child);
    await waitForPort(ws, child);
    if (tls !== undefined) await waitForPort(tls, child);
  } catch (e) {
    child.kill();
    throw new Error(`${(e as Error).message}\n${stderr}`);
  }
  const broker: Broker = {
    tcpUrl: `mqtt://127.0.0.1:${tcp}`,
    wsUrl: `ws://127.0.0.1:${ws}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (tls !== undefined) broker.tlsUrl = `mqtts://127.0.0.1:${tls}`;
  return broker;
}
