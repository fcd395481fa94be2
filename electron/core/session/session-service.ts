// Roles: admin (everything, raw video under audit), operator (anonymized video, fine-tuning,
// export), viewer (anonymized video only). Roles may be protected by a PIN (scrypt-hashed in the
// users table). The session is per app instance: one operator console.
//
// PIN guessing is slowed per role and across restarts (pin_attempts): the first 4 wrong PINs in a
// row cost nothing (typos), the 5th locks the role for a minute and every further wrong PIN doubles
// the lock, up to an hour. While a role is locked no PIN is checked at all, the right one included.
// A lockout is kept for the admin to see (Session.lockouts) until acknowledged; every attempt is
// in the audit log. A right PIN, or an admin setting the role's PIN, clears the count.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

import { PIN_RULES, type Role, type Session } from '../../contract.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Wrong PINs in a row that cost no wait. */
export const FREE_PIN_FAILURES = 4;
const FIRST_LOCK_S = 60;
const MAX_LOCK_S = 3600;

/** How long a role stays locked after `failures` wrong PINs in a row (0: not locked). */
export function lockSeconds(failures: number): number {
  if (failures <= FREE_PIN_FAILURES) return 0;
  return Math.min(MAX_LOCK_S, FIRST_LOCK_S * 2 ** (failures - FREE_PIN_FAILURES - 1));
}

export function hashPin(pin: string, salt = randomBytes(16)): string {
  return `scrypt:${salt.toString('hex')}:${scryptSync(pin, salt, 32).toString('hex')}`;
}

export function verifyPin(pin: string, stored: string): boolean {
  const [, saltHex, hashHex] = stored.split(':');
  if (!saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = scryptSync(pin, Buffer.from(saltHex, 'hex'), expected.length);
  return timingSafeEqual(expected, actual);
}

/** "45 s", "2 min", "1 h": the wait in words for messages. */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h${seconds % 3600 >= 60 ? ` ${Math.ceil((seconds % 3600) / 60)} min` : ''}`;
}

export interface SessionOptions {
  /** The clock (ms), for tests. */
  now?: () => number;
  /** The PIN check, for tests that count how often it runs. */
  verifyPin?: (pin: string, stored: string) => boolean;
}

export class SessionService {
  private role: Role;
  private readonly now: () => number;
  private readonly verify: (pin: string, stored: string) => boolean;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    initialRole?: Role,
    opts: SessionOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.verify = opts.verifyPin ?? verifyPin;
    // Until an admin PIN exists the console starts as admin (first-run set-up); afterwards as viewer.
    this.role = initialRole ?? (this.pinFor('admin') ? 'viewer' : 'admin');
  }

  private pinFor(role: Role): string | null {
    const r = this.db.prepare(`SELECT pin_hash FROM users WHERE role = ?`).get(role) as
      { pin_hash: string } | undefined;
    return r?.pin_hash ?? null;
  }

  private attempts(role: Role): { failures: number; lockedUntilMs: number } {
    const r = this.db.prepare(`SELECT failures, locked_until_ms FROM pin_attempts WHERE role = ?`).get(role) as
      { failures: number; locked_until_ms: number } | undefined;
    return { failures: r?.failures ?? 0, lockedUntilMs: r?.locked_until_ms ?? 0 };
  }

  /** Seconds until a PIN for `role` is checked again (0: now). */
  retryAfterS(role: Role): number {
    const ms = this.attempts(role).lockedUntilMs - this.now();
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  get current(): Role {
    return this.role;
  }

  state(): Session {
    const roles = (this.db.prepare(`SELECT role FROM users`).all() as { role: Role }[]).map((r) => r.role);
    const pinLocks = roles
      .map((role) => ({ role, retryAfterS: this.retryAfterS(role) }))
      .filter((l) => l.retryAfterS > 0);
    const lockouts =
      this.role === 'admin'
        ? (
            this.db
              .prepare(
                `SELECT id, role, at, failures, locked_for_s FROM pin_lockouts WHERE acknowledged_at IS NULL ORDER BY id`,
              )
              .all() as { id: number; role: Role; at: string; failures: number; locked_for_s: number }[]
          ).map((l) => ({ id: l.id, role: l.role, at: l.at, failures: l.failures, lockedForS: l.locked_for_s }))
        : [];
    return { role: this.role, protectedRoles: roles, pinLocks, lockouts };
  }

  /** Throws `forbidden` unless the current role is at least `min`. */
  require(min: Role, what: string): void {
    if (RANK[this.role] < RANK[min]) {
      throw new SpactError('forbidden', `${what} needs the ${min} role (current role: ${this.role})`);
    }
  }

  /** Whether the current role is at least `min` (no error, nothing recorded). */
  allows(min: Role): boolean {
    return RANK[this.role] >= RANK[min];
  }

  switchTo(role: Role, pin?: string): Session {
    const stored = this.pinFor(role);
    // Going down never needs a PIN; going up needs the target role's PIN when it has one.
    if (stored && RANK[role] > RANK[this.role]) {
      const wait = this.retryAfterS(role);
      if (wait > 0) {
        // Locked: refused before the PIN is even looked at.
        this.audit.record(this.role, 'role-switch-locked', role, { retryAfterS: wait });
        throw new SpactError(
          'forbidden',
          `the ${role} PIN is locked after too many wrong tries; try again in ${waitInWords(wait)}`,
          { reason: 'pin-locked', retryAfterS: wait },
        );
      }
      if (!pin) {
        this.audit.record(this.role, 'role-switch-denied', role, { reason: 'no-pin' });
        throw new SpactError('unauthorized', `the ${role} role needs its PIN`, { reason: 'no-pin' });
      }
      if (!this.verify(pin, stored)) {
        const { failures, lockedForS } = this.recordFailure(role);
        this.audit.record(this.role, 'role-switch-denied', role, {
          reason: 'wrong-pin',
          failures,
          ...(lockedForS > 0 ? { lockedForS } : {}),
        });
        if (lockedForS > 0) {
          this.db
            .prepare(`INSERT INTO pin_lockouts (role, at, failures, locked_for_s) VALUES (?, ?, ?, ?)`)
            .run(role, nowIso(), failures, lockedForS);
          this.audit.record('system', 'pin-lockout', role, { failures, lockedForS });
          throw new SpactError(
            'unauthorized',
            `wrong PIN for the ${role} role; after ${failures} wrong tries the next is possible in ${waitInWords(lockedForS)}`,
            { reason: 'wrong-pin', failures, retryAfterS: lockedForS },
          );
        }
        throw new SpactError('unauthorized', `wrong PIN for the ${role} role`, { reason: 'wrong-pin', failures });
      }
      this.db.prepare(`DELETE FROM pin_attempts WHERE role = ?`).run(role);
    }
    this.audit.record(
      this.role,
      'role-switch',
      role,
      stored && RANK[role] > RANK[this.role] ? { pin: true } : undefined,
    );
    this.role = role;
    return this.state();
  }

  private recordFailure(role: Role): { failures: number; lockedForS: number } {
    const failures = this.attempts(role).failures + 1;
    const lockedForS = lockSeconds(failures);
    this.db
      .prepare(
        `INSERT INTO pin_attempts (role, failures, last_failure_at, locked_until_ms) VALUES (?, ?, ?, ?)
         ON CONFLICT(role) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,
           locked_until_ms = excluded.locked_until_ms`,
      )
      .run(role, failures, nowIso(), lockedForS > 0 ? this.now() + lockedForS * 1000 : 0);
    return { failures, lockedForS };
  }

  setPin(role: Role, pin: string | null): Session {
    this.require('admin', 'setting PINs');
    if (pin !== null && !new RegExp(`^\\d{${PIN_RULES.minNew},${PIN_RULES.max}}$`).test(pin)) {
      throw new SpactError(
        'bad-input',
        `a new PIN needs ${PIN_RULES.minNew} to ${PIN_RULES.max} digits (it has ${pin.length})`,
        { reason: 'pin-too-short', minLength: PIN_RULES.minNew },
      );
    }
    if (pin === null) this.db.prepare(`DELETE FROM users WHERE role = ?`).run(role);
    else {
      this.db
        .prepare(
          `INSERT INTO users (name, role, pin_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET pin_hash = excluded.pin_hash`,
        )
        .run(role, role, hashPin(pin), nowIso());
    }
    // A new (or no) PIN is a fresh start: the old wrong tries were against the old PIN.
    this.db.prepare(`DELETE FROM pin_attempts WHERE role = ?`).run(role);
    this.audit.record('admin', pin === null ? 'pin-removed' : 'pin-set', role);
    return this.state();
  }

  /** The admin has seen the lockouts listed in the session: they are no longer listed. */
  acknowledgeLockouts(): Session {
    this.require('admin', 'acknowledging PIN lockouts');
    const ids = this.state().lockouts.map((l) => l.id);
    if (ids.length > 0) {
      this.db
        .prepare(`UPDATE pin_lockouts SET acknowledged_at = ? WHERE acknowledged_at IS NULL AND id <= ?`)
        .run(nowIso(), Math.max(...ids));
      this.audit.record('admin', 'pin-lockouts-acknowledged', null, { lockouts: ids });
    }
    return this.state();
  }
}
