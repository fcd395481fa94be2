// PIN hardening: back-off and lockout per role, kept across restarts, every attempt audited, the
// lockout listed for the admin, new PINs of 6 digits or more.
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { AuditLog } from '../../electron/core/audit/audit-log.js';
import { openDatabase, type Db } from '../../electron/core/db/database.js';
import { SpactError } from '../../electron/core/errors.js';
import {
  FREE_PIN_FAILURES,
  hashPin,
  lockSeconds,
  SessionService,
  verifyPin,
} from '../../electron/core/session/session-service.js';
import { createCoreServices } from '../../electron/core/services.js';
import { tmpDir } from '../helpers/toy-clips.js';

const ADMIN_PIN = '480213';

/** A session on `db` with a settable clock and a count of PIN checks. */
function session(db: Db, role: 'admin' | 'operator' | 'viewer', clock: { ms: number }) {
  const checks = { n: 0 };
  const s = new SessionService(db, new AuditLog(db), role, {
    now: () => clock.ms,
    verifyPin: (pin, stored) => {
      checks.n++;
      return verifyPin(pin, stored);
    },
  });
  return { s, checks };
}

function errorOf(fn: () => unknown): SpactError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpactError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const actions = (db: Db) =>
  (
    db.prepare(`SELECT action, object, details FROM audit_log ORDER BY id`).all() as {
      action: string;
      object: string | null;
      details: string | null;
    }[]
  ).map((r) => ({ ...r, details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>) }));

describe('PIN back-off and lockout', () => {
  it('refuses the 6th try within a minute without checking the PIN, the right one included', () => {
    const dir = tmpDir('spact-pin-');
    const file = path.join(dir, 'library.sqlite');
    const clock = { ms: Date.parse('2026-03-01T10:00:00Z') };
    let db = openDatabase(file);
    const { s, checks } = session(db, 'admin', clock);
    s.setPin('admin', ADMIN_PIN);
    s.switchTo('viewer');
    const before = actions(db).length;

    // Five wrong PINs within the minute: each is checked and refused.
    for (let i = 1; i <= 5; i++) {
      clock.ms += 5_000;
      const e = errorOf(() => s.switchTo('admin', `00000${i}`));
      expect(e.kind).toBe('unauthorized');
      expect(checks.n).toBe(i);
      if (i < 5) expect((e.details as { retryAfterS?: number }).retryAfterS).toBeUndefined();
      else expect(e.details).toMatchObject({ reason: 'wrong-pin', failures: 5, retryAfterS: 60 });
    }
    // The 6th, 10 s later and with the right PIN: refused as locked, and the PIN never looked at.
    clock.ms += 10_000;
    const locked = errorOf(() => s.switchTo('admin', ADMIN_PIN));
    expect(locked.kind).toBe('forbidden');
    expect(locked.details).toMatchObject({ reason: 'pin-locked', retryAfterS: 50 });
    expect(locked.message).toMatch(/try again in 50 s/);
    expect(checks.n).toBe(5);
    expect(s.current).toBe('viewer');
    expect(s.state().pinLocks).toEqual([{ role: 'admin', retryAfterS: 50 }]);

    // Every attempt is audited (5 denied + 1 locked), and the lockout once.
    const log = actions(db).slice(before);
    expect(log.filter((a) => a.action === 'role-switch-denied')).toHaveLength(5);
    expect(log.filter((a) => a.action === 'role-switch-locked')).toEqual([
      { action: 'role-switch-locked', object: 'admin', details: { retryAfterS: 50 } },
    ]);
    expect(log.filter((a) => a.action === 'pin-lockout')).toEqual([
      { action: 'pin-lockout', object: 'admin', details: { failures: 5, lockedForS: 60 } },
    ]);

    // A restart does not reset the count: still locked, still unchecked.
    db.close();
    db = openDatabase(file);
    const restarted = session(db, 'viewer', clock);
    clock.ms += 20_000;
    expect(errorOf(() => restarted.s.switchTo('admin', ADMIN_PIN)).details).toMatchObject({ retryAfterS: 30 });
    expect(restarted.checks.n).toBe(0);

    // Once the minute is over the right PIN works and clears the count.
    clock.ms += 31_000;
    expect(restarted.s.switchTo('admin', ADMIN_PIN).role).toBe('admin');
    expect(restarted.checks.n).toBe(1);
    expect(db.prepare(`SELECT COUNT(*) AS n FROM pin_attempts`).get()).toEqual({ n: 0 });
    db.close();
  });

  it('doubles the lock with each further wrong PIN, up to an hour, per role', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 10, 20].map(lockSeconds)).toEqual([0, 0, 0, 0, 60, 120, 240, 480, 1920, 3600]);
    expect(FREE_PIN_FAILURES).toBe(4);

    const db = openDatabase(':memory:');
    const clock = { ms: 1_000_000 };
    const { s, checks } = session(db, 'admin', clock);
    s.setPin('admin', ADMIN_PIN);
    s.setPin('operator', '135790');
    s.switchTo('viewer');
    for (let i = 0; i < 5; i++) errorOf(() => s.switchTo('operator', '000000'));
    // The operator PIN is locked; the admin PIN is not.
    expect(s.state().pinLocks.map((l) => l.role)).toEqual(['operator']);
    clock.ms += 61_000;
    expect(errorOf(() => s.switchTo('operator', '000000')).details).toMatchObject({ failures: 6, retryAfterS: 120 });
    clock.ms += 121_000;
    expect(errorOf(() => s.switchTo('operator', '000000')).details).toMatchObject({ failures: 7, retryAfterS: 240 });
    const n = checks.n;
    expect(errorOf(() => s.switchTo('operator', '135790')).kind).toBe('forbidden');
    expect(checks.n).toBe(n);
    // The admin role is unaffected, and an admin setting the operator PIN lifts its lock.
    expect(s.switchTo('admin', ADMIN_PIN).role).toBe('admin');
    s.setPin('operator', '246802');
    expect(s.state().pinLocks).toEqual([]);
    s.switchTo('viewer');
    expect(s.switchTo('operator', '246802').role).toBe('operator');
    db.close();
  });

  it('lists lockouts for the admin only, until the admin acknowledges them', () => {
    const db = openDatabase(':memory:');
    const clock = { ms: 5_000_000 };
    const { s } = session(db, 'admin', clock);
    s.setPin('admin', ADMIN_PIN);
    s.switchTo('operator');
    for (let i = 0; i < 5; i++) errorOf(() => s.switchTo('admin', '999999'));
    // Not shown to the operator who typed them.
    expect(s.state().lockouts).toEqual([]);
    clock.ms += 60_001;
    const asAdmin = s.switchTo('admin', ADMIN_PIN);
    expect(asAdmin.lockouts).toMatchObject([{ role: 'admin', failures: 5, lockedForS: 60 }]);
    expect(s.acknowledgeLockouts().lockouts).toEqual([]);
    expect(actions(db).at(-1)).toMatchObject({ action: 'pin-lockouts-acknowledged' });
    s.switchTo('viewer');
    expect(errorOf(() => s.acknowledgeLockouts()).kind).toBe('forbidden');
    db.close();
  });

  it('needs 6 digits for a new PIN; a 4-digit PIN set before keeps working', () => {
    const db = openDatabase(':memory:');
    const { s } = session(db, 'admin', { ms: 0 });
    const short = errorOf(() => s.setPin('operator', '12345'));
    expect(short.kind).toBe('bad-input');
    expect(short.message).toBe('a new PIN needs 6 to 12 digits (it has 5)');
    expect(s.state().protectedRoles).toEqual([]);
    expect(s.setPin('operator', '123456').protectedRoles).toEqual(['operator']);
    // A PIN stored by an older version (4 digits).
    db.prepare(`UPDATE users SET pin_hash = ? WHERE role = 'operator'`).run(hashPin('1234'));
    s.switchTo('viewer');
    expect(s.switchTo('operator', '1234').role).toBe('operator');
    // A missing PIN is refused and audited but does not count as a wrong one.
    s.switchTo('viewer');
    expect(errorOf(() => s.switchTo('operator')).details).toEqual({ reason: 'no-pin' });
    expect(db.prepare(`SELECT COUNT(*) AS n FROM pin_attempts`).get()).toEqual({ n: 0 });
    db.close();
  });

  it('reaches the API as kind forbidden with details.retryAfterS, and setPin refuses short PINs', async () => {
    const services = createCoreServices({ dataDir: tmpDir('spact-pin-api-'), role: 'admin' });
    const call = (m: string, req: unknown) => services.dispatcher.dispatch(m, req, { transport: 'bridge' });
    expect(await call('session.setPin', { role: 'admin', pin: '1234' })).toMatchObject({
      ok: false,
      error: { kind: 'bad-input', details: { reason: 'pin-too-short', minLength: 6 } },
    });
    expect(await call('session.setPin', { role: 'admin', pin: ADMIN_PIN })).toMatchObject({ ok: true });
    await call('session.switch', { role: 'viewer' });
    for (let i = 0; i < 5; i++) await call('session.switch', { role: 'admin', pin: '111111' });
    const r = await call('session.switch', { role: 'admin', pin: ADMIN_PIN });
    expect(r).toMatchObject({ ok: false, error: { kind: 'forbidden', details: { reason: 'pin-locked' } } });
    const wait = (r as { error: { details: { retryAfterS: number } } }).error.details.retryAfterS;
    expect(wait).toBeGreaterThan(55);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await call('session.get', {})).toMatchObject({
      ok: true,
      value: { role: 'viewer', pinLocks: [{ role: 'admin' }] },
    });
    await services.close();
  });
});
