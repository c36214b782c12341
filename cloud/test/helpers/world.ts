import 'reflect-metadata';
import { createPrivateKey, type KeyObject, webcrypto } from 'node:crypto';
import { ManualClock, newId, SYNC_BATCHES_PATH, type SyncBatch, signRequest } from '@palisade/shared';
import * as x509 from '@peculiar/x509';
import { Encoder } from 'cbor-x';
import { SignJWT } from 'jose';
import { type CloudAppOptions, createCloudApp } from '../../src/app.js';
import { bootstrap } from '../../src/auth/bootstrap.js';
import { newApiKey, secretHash } from '../../src/auth/tokens.js';
import type { CloudDatabase } from '../../src/db/types.js';
import { apiKeys, organizations } from '../../src/tenancy/schema.js';

x509.cryptoProvider.set(webcrypto as never);

export const ADMIN_PASSWORD = 'correct horse battery staple';
/** Tests hash with N=2^10 to stay fast; auth.test.ts checks the production default separately. */
export const TEST_PASSWORD_LOG_N = 10;
export const ROLES = ['admin', 'analyst', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

type App = Awaited<ReturnType<typeof createCloudApp>>;

export interface Org {
  id: string;
  keys: Record<Role, string>;
}

/** An app over a migrated database, a manual clock, and one organisation with an API key per role. */
export interface World {
  app: App;
  clock: ManualClock;
  database: CloudDatabase;
  org: Org;
  call(
    method: string,
    path: string,
    init?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies in tests are asserted, not typed
  json<T = any>(method: string, path: string, init?: { key?: string; body?: unknown; expect?: number }): Promise<T>;
  addOrg(name: string): Promise<Org>;
  enrollGateway(org?: Org, siteName?: string): Promise<TestGateway>;
}

export interface TestGateway {
  id: string;
  orgId: string;
  siteId: string;
  privateKey: KeyObject;
  /** Sends a batch signed as this gateway (or with overrides to fake other things). */
  send(batch: SyncBatch | Uint8Array | string, opts?: SendOptions): Promise<Response>;
  batch(sequence: number, records: SyncBatch['records']): SyncBatch;
  signResult(claims: Record<string, unknown>, key?: KeyObject): Promise<string>;
}

export interface SendOptions {
  format?: 'json' | 'cbor';
  /** Sign as this key instead of the gateway's own. */
  signingKey?: KeyObject;
  /** Claim to be this gateway in the header. */
  headerGatewayId?: string;
  headers?: Record<string, string>;
  nonce?: string;
  /** Sign at this time instead of the clock's. */
  signedAt?: number;
  /** Tamper: sign these bytes but send `body`. */
  signedBody?: Uint8Array;
}

const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true });

async function addOrg(database: CloudDatabase, name: string, now: number): Promise<Org> {
  const id = newId('org', now);
  await database.db.insert(organizations).values({ id, name });
  return { id, keys: await keysFor(database, id, now) };
}

async function keysFor(database: CloudDatabase, orgId: string, now: number): Promise<Record<Role, string>> {
  const out = {} as Record<Role, string>;
  for (const role of ROLES) {
    const k = newApiKey(now);
    await database.db
      .insert(apiKeys)
      .values({ id: k.id, orgId, name: `${role} key`, role, secretHash: secretHash(k.secret) });
    out[role] = k.key;
  }
  return out;
}

export async function makeWorld(database: CloudDatabase, options: Partial<CloudAppOptions> = {}): Promise<World> {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
  const boot = await bootstrap(
    database,
    { adminPassword: ADMIN_PASSWORD, passwordLogN: TEST_PASSWORD_LOG_N },
    clock.now(),
  );
  if (!boot.created) throw new Error('database was not fresh');
  const org: Org = { id: boot.orgId, keys: await keysFor(database, boot.orgId, clock.now()) };
  // Every in-process request shares one source address; sign-in limiting has its own test.
  const app = await createCloudApp({
    database,
    clock,
    passwordLogN: TEST_PASSWORD_LOG_N,
    loginRate: { burst: 10_000, perSecond: 10_000 },
    ...options,
  });

  const call: World['call'] = (method, path, init = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    return Promise.resolve(app.request(path, { method, headers, ...(body === undefined ? {} : { body }) }));
  };
  const json: World['json'] = async (method, path, init = {}) => {
    const res = await call(method, path, init);
    const body = await res.json();
    const expected = init.expect ?? (method === 'POST' && !path.includes('/revoke') ? 201 : 200);
    if (res.status !== expected) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(body)}`);
    return body as never;
  };

  const world: World = {
    app,
    clock,
    database,
    org,
    call,
    json,
    addOrg: (name) => addOrg(database, name, clock.now()),
    async enrollGateway(o = org, siteName = 'plant-1') {
      const { token, siteId } = await json('POST', '/api/v1/enrollment-tokens', {
        key: o.keys.admin,
        body: { siteName },
      });
      const { csrPem, privateKey } = await makeCsr('gw-test');
      const enrolled = await json('POST', '/api/v1/gateways/enroll', { body: { token, csrPem } });
      return gatewayClient(app, clock, { id: enrolled.gatewayId, orgId: o.id, siteId, privateKey });
    },
  };
  return world;
}

export async function makeCsr(
  cn: string,
  alg: 'P-256' | 'P-384' = 'P-256',
): Promise<{ csrPem: string; privateKey: KeyObject }> {
  const algorithm = { name: 'ECDSA', namedCurve: alg, hash: alg === 'P-256' ? 'SHA-256' : 'SHA-384' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: algorithm,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { csrPem: csr.toString('pem'), privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) };
}

export function gatewayClient(
  app: App,
  clock: ManualClock,
  gw: { id: string; orgId: string; siteId: string; privateKey: KeyObject },
): TestGateway {
  return {
    ...gw,
    batch(sequence, records) {
      return { gatewayId: gw.id, sequence, sentAt: new Date(clock.now()).toISOString(), records };
    },
    async send(batch, opts = {}) {
      const format = opts.format ?? 'json';
      const body =
        typeof batch === 'string' || batch instanceof Uint8Array
          ? batch
          : format === 'cbor'
            ? new Uint8Array(cborEncoder.encode(batch))
            : JSON.stringify(batch);
      const headers = signRequest({
        gatewayId: opts.headerGatewayId ?? gw.id,
        privateKey: opts.signingKey ?? gw.privateKey,
        method: 'POST',
        path: SYNC_BATCHES_PATH,
        body: opts.signedBody ?? body,
        now: opts.signedAt ?? clock.now(),
        ...(opts.nonce === undefined ? {} : { nonce: opts.nonce }),
      });
      return app.request(SYNC_BATCHES_PATH, {
        method: 'POST',
        headers: {
          'content-type': format === 'cbor' ? 'application/cbor' : 'application/json',
          ...headers,
          ...(opts.headers ?? {}),
        },
        body: typeof body === 'string' ? body : Buffer.from(body),
      });
    },
    signResult(claims, key) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: gw.id })
        .sign(key ?? gw.privateKey);
    },
  };
}

/** EAR claims of an affirming (or failing) appraisal by `gatewayId` of `deviceId`. */
export function earClaims(
  gatewayId: string,
  deviceId: string,
  jti: string,
  iat: number,
  status: 'affirming' | 'contraindicated' = 'affirming',
) {
  const vector =
    status === 'affirming' ? { 'instance-identity': 2, executables: 2 } : { 'instance-identity': 2, executables: 96 };
  return {
    eat_profile: 'tag:ietf.org,2026:rats/ear#04',
    iat,
    iss: gatewayId,
    sub: deviceId,
    jti,
    ear_status: status,
    ear_verifier_id: { developer: 'https://palisade.dev', build: 'test' },
    submods: {
      device: {
        ear_status: status,
        ear_trustworthiness_vector: vector,
        ear_verifier_claims: { reasons: status === 'affirming' ? [] : ['appraisal.firmware_mismatch'] },
      },
    },
  };
}

/** Response bodies in tests are read as `any`: the assertions say what shape they must have. */
// biome-ignore lint/suspicious/noExplicitAny: test convenience
export const readJson = (res: Response): Promise<any> => res.json() as Promise<any>;
