// Roles: admin (everything, raw video under audit), operator (anonymized video, fine-tuning,
// export), viewer (anonymized video only). Roles may be protected by a PIN (scrypt-hashed in the
// users table). The session is per app instance: one operator console.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

import type { Role, Session } from '../../contract.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

function hashPin(pin: string, salt = randomBytes(16)): string {
  return `scrypt:${salt.toString('hex')}:${scryptSync(pin, salt, 32).toString('hex')}`;
}

function verifyPin(pin: string, stored: string): boolean {
  const [, saltHex, hashHex] = stored.split(':');
  if (!saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = scryptSync(pin, Buffer.from(saltHex, 'hex'), expected.length);
  return timingSafeEqual(expected, actual);
}

export class SessionService {
  private role: Role;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    initialRole?: Role,
  ) {
    // Until an admin PIN exists the console starts as admin (first-run set-up); afterwards as viewer.
    this.role = initialRole ?? (this.pinFor('admin') ? 'viewer' : 'admin');
  }

  private pinFor(role: Role): string | null {
    const r = this.db.prepare(`SELECT pin_hash FROM users WHERE role = ?`).get(role) as
      { pin_hash: string } | undefined;
    return r?.pin_hash ?? null;
  }

  get current(): Role {
    return this.role;
  }

  state(): Session {
    const roles = (this.db.prepare(`SELECT role FROM users`).all() as { role: Role }[]).map((r) => r.role);
    return { role: this.role, protectedRoles: roles };
  }

  /** Throws `forbidden` unless the current role is at least `min`. */
  require(min: Role, what: string): void {
    if (RANK[this.role] < RANK[min]) {
      throw new SpactError('forbidden', `${what} needs the ${min} role (current role: ${this.role})`);
    }
  }

  switchTo(role: Role, pin?: string): Session {
    const stored = this.pinFor(role);
    // Going down never needs a PIN; going up needs the target role's PIN when it has one.
    if (stored && RANK[role] > RANK[this.role] && !(pin && verifyPin(pin, stored))) {
      this.audit.record(this.role, 'role-switch-denied', role);
      throw new SpactError('unauthorized', `wrong PIN for the ${role} role`);
    }
    this.audit.record(this.role, 'role-switch', role);
    this.role = role;
    return this.state();
  }

  setPin(role: Role, pin: string | null): Session {
    this.require('admin', 'setting PINs');
    if (pin === null) this.db.prepare(`DELETE FROM users WHERE role = ?`).run(role);
    else {
      this.db
        .prepare(
          `INSERT INTO users (name, role, pin_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET pin_hash = excluded.pin_hash`,
        )
        .run(role, role, hashPin(pin), nowIso());
    }
    this.audit.record('admin', pin === null ? 'pin-removed' : 'pin-set', role);
    return this.state();
  }
}
