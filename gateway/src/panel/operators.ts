import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { AuthError, type Clock, ConflictError, ValidationError } from '@palisade/shared';
import type { Store } from '../store/open-store.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, o: object) => Promise<Buffer>;

export const OPERATOR_ROLES = ['operator', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

export interface Operator {
  name: string;
  role: OperatorRole;
}

export interface PanelSession extends Operator {
  csrf: string;
  expiresAt: number;
}

/**
 * scrypt N=2^15, r=8, p=1 (RFC 7914 §2's interactive setting, doubled): ~32 MiB and ~50 ms per attempt on an edge
 * box, which an operator logging in does not notice and an online guesser does. Async, so a login never stalls the
 * broker's event loop.
 */
const DEFAULT_N = 32768;
const R = 8;
const P = 1;
const KEY_LEN = 32;

/** After this many failed logins of one name within the window, that name is refused until the window passes. */
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 5 * 60_000;

export async function hashPassword(password: string, n = DEFAULT_N): Promise<string> {
  if (password.length < 12 || password.length > 256) {
    throw new ValidationError('validation.password_length', 'an operator password must be 12 to 256 characters');
  }
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEY_LEN, { N: n, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${n}$${R}$${P}$${salt.toString('hex')}$${hash.toString('hex')}`;
}

/** False for a wrong password or a malformed stored hash; never throws on what a visitor typed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt' || password.length > 256) return false;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every((x) => Number.isSafeInteger(x) && x > 0) || n > 1 << 20) return false;
  const expected = Buffer.from(parts[5] ?? '', 'hex');
  if (expected.length !== KEY_LEN) return false;
  const actual = await scrypt(password, Buffer.from(parts[4] ?? '', 'hex'), KEY_LEN, {
    N: n,
    r,
    p,
    maxmem: 256 * 1024 * 1024,
  });
  return timingSafeEqual(actual, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Local operator accounts (kept in the gateway's SQLite file, table `panel_operators`, created here because only the
 * panel uses it) and the panel's sessions. Sessions live in memory, keyed by the sha256 of the cookie value: a
 * restart of the gateway signs everyone out, which on a plant-network box is the safe default.
 */
export class OperatorStore {
  private readonly sessions = new Map<string, PanelSession>();
  private readonly failures = new Map<string, { count: number; since: number }>();
  private decoy: string | undefined;

  private readonly sessionTtlMs: number;
  private readonly scryptN: number;

  /**
   * `scryptN` is the cost of new hashes (default 2^15); tests lower it. Stored hashes carry their own cost, so raising
   * it later leaves existing passwords valid.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    opts: { sessionTtlMs?: number; scryptN?: number } = {},
  ) {
    this.sessionTtlMs = opts.sessionTtlMs ?? 8 * 3600_000;
    this.scryptN = opts.scryptN ?? DEFAULT_N;
    store.sqlite.exec(`CREATE TABLE IF NOT EXISTS panel_operators (
      name TEXT PRIMARY KEY,
      role TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
      password_hash TEXT NOT NULL,
      disabled INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL
    )`);
  }

  async create(name: string, password: string, role: OperatorRole): Promise<Operator> {
    if (!/^[a-zA-Z0-9._@-]{1,64}$/.test(name)) {
      throw new ValidationError('validation.operator_name', 'operator names are 1-64 letters, digits, . _ @ -');
    }
    if (!OPERATOR_ROLES.includes(role)) throw new ValidationError('validation.operator_role', `unknown role ${role}`);
    const hash = await hashPassword(password, this.scryptN);
    const res = this.store.sqlite
      .prepare('INSERT OR IGNORE INTO panel_operators (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(name, role, hash, this.clock.now());
    if (res.changes === 0) throw new ConflictError('conflict.operator_exists', `operator ${name} exists`);
    return { name, role };
  }

  /** Creates the operator unless one of that name exists (first start with a configured admin). */
  async ensure(name: string, password: string, role: OperatorRole): Promise<void> {
    if (this.find(name) === undefined) await this.create(name, password, role);
  }

  count(): number {
    return (this.store.sqlite.prepare('SELECT COUNT(*) AS n FROM panel_operators').get() as { n: number }).n;
  }

  private find(
    name: string,
  ): { name: string; role: OperatorRole; password_hash: string; disabled: number } | undefined {
    return this.store.sqlite.prepare('SELECT * FROM panel_operators WHERE name = ?').get(name) as
      | { name: string; role: OperatorRole; password_hash: string; disabled: number }
      | undefined;
  }

  /** Checks the password and opens a session: returns the cookie value (shown once) and the session. */
  async login(name: string, password: string): Promise<{ cookie: string; session: PanelSession }> {
    const now = this.clock.now();
    const f = this.failures.get(name);
    if (f && now - f.since < FAILURE_WINDOW_MS && f.count >= MAX_FAILURES) {
      throw new AuthError('auth.locked', 'too many failed sign-ins; wait five minutes');
    }
    const row = this.find(name);
    this.decoy ??= await hashPassword(randomBytes(16).toString('hex'), this.scryptN);
    // Same scrypt work whether or not the name exists, so timing does not reveal operator names.
    const ok = await verifyPassword(password, row?.password_hash ?? this.decoy);
    if (!row || !ok || row.disabled) {
      const cur = f && now - f.since < FAILURE_WINDOW_MS ? f : { count: 0, since: now };
      this.failures.set(name, { count: cur.count + 1, since: cur.since });
      throw new AuthError('auth.invalid_credentials', 'wrong name or password');
    }
    this.failures.delete(name);
    const cookie = randomBytes(32).toString('base64url');
    const session: PanelSession = {
      name: row.name,
      role: row.role,
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: now + this.sessionTtlMs,
    };
    this.sessions.set(sha256(cookie), session);
    return { cookie, session };
  }

  session(cookie: string | undefined): PanelSession | undefined {
    if (cookie === undefined || cookie.length > 128) return undefined;
    const key = sha256(cookie);
    const s = this.sessions.get(key);
    if (s === undefined) return undefined;
    if (s.expiresAt <= this.clock.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return s;
  }

  logout(cookie: string | undefined): void {
    if (cookie !== undefined) this.sessions.delete(sha256(cookie));
  }
}

/** Constant-time comparison of the form's CSRF token with the session's. */
export function csrfMatches(session: PanelSession, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const a = Buffer.from(sha256(token));
  const b = Buffer.from(sha256(session.csrf));
  return timingSafeEqual(a, b);
}

/** Route guard for actions: viewers may look, not change. */
export function requireOperator(session: PanelSession): void {
  if (session.role !== 'operator') throw new AuthError('auth.forbidden', 'this needs the operator role');
}
