// The hash-chained audit log: an entry edited, removed or inserted outside the app, or the newest
// entries removed, is found by verify() and by `spact audit-log verify`.
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { AuditLog, entryHash, GENESIS_HASH } from '../../electron/core/audit/audit-log.js';
import { openDatabase, type Db } from '../../electron/core/db/database.js';
import { MIGRATIONS } from '../../electron/core/db/migrations/index.js';
import { spactSync } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

function logWith(n: number): { db: Db; log: AuditLog } {
  const db = openDatabase(':memory:');
  const log = new AuditLog(db);
  for (let i = 1; i <= n; i++) log.record('admin', 'raw-view', `clip:${i}`, i % 2 ? { n: i } : undefined);
  return { db, log };
}

describe('hash-chained audit log', () => {
  it('links every entry to the one before and is whole when untouched', () => {
    const { db, log } = logWith(5);
    const rows = db.prepare(`SELECT id, prev_hash, hash FROM audit_log ORDER BY id`).all() as {
      id: number;
      prev_hash: string;
      hash: string;
    }[];
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    expect(log.verify()).toEqual({ ok: true, entries: 5, head: rows[4]!.hash });
    expect(new AuditLog(openDatabase(':memory:')).verify()).toEqual({ ok: true, entries: 0, head: null });
  });

  it('finds an edited entry', () => {
    for (const column of ['actor', 'action', 'object', 'details', 'at']) {
      const { db, log } = logWith(5);
      db.prepare(`UPDATE audit_log SET ${column} = 'x' WHERE id = 3`).run();
      expect(log.verify()).toMatchObject({
        ok: false,
        broken: { id: 3, reason: 'entry 3 was changed after it was written' },
      });
    }
  });

  it('finds a removed entry, removed first entries and removed newest entries', () => {
    let { db, log } = logWith(5);
    db.prepare(`DELETE FROM audit_log WHERE id = 3`).run();
    expect(log.verify()).toMatchObject({ ok: false, broken: { id: 4 } });
    expect(log.verify().broken?.reason).toMatch(/entry 4 does not link to entry 2: an entry between them was removed/);

    ({ db, log } = logWith(5));
    db.prepare(`DELETE FROM audit_log WHERE id <= 2`).run();
    expect(log.verify()).toMatchObject({ ok: false, broken: { id: 3 } });

    ({ db, log } = logWith(5));
    db.prepare(`DELETE FROM audit_log WHERE id >= 4`).run();
    expect(log.verify()).toMatchObject({ ok: false, broken: { id: 5 } });
    expect(log.verify().broken?.reason).toMatch(/ends at entry 3 but its chain ends at entry 5/);

    // Removed and a new entry appended by the app: still found (the append links to the old head).
    ({ db, log } = logWith(5));
    db.prepare(`DELETE FROM audit_log WHERE id = 5`).run();
    log.record('admin', 'settings', null);
    expect(log.verify()).toMatchObject({ ok: false });
  });

  it('finds an entry inserted without the app, and a rewritten entry with its hash recomputed', () => {
    const { db, log } = logWith(3);
    db.prepare(`INSERT INTO audit_log (at, actor, action, object) VALUES ('t', 'admin', 'x', NULL)`).run();
    expect(log.verify()).toMatchObject({ ok: false, broken: { id: 4 } });

    const other = logWith(4);
    // Whoever knows the scheme can recompute the entry's own hash: the next link breaks.
    const r = other.db.prepare(`SELECT * FROM audit_log WHERE id = 2`).get() as { prev_hash: string };
    other.db.prepare(`UPDATE audit_log SET object = 'clip:99' WHERE id = 2`).run();
    const row = other.db.prepare(`SELECT id, at, actor, action, object, details FROM audit_log WHERE id = 2`).get() as {
      id: number;
      at: string;
      actor: string;
      action: string;
      object: string | null;
      details: string | null;
    };
    other.db.prepare(`UPDATE audit_log SET hash = ? WHERE id = 2`).run(entryHash(r.prev_hash, row));
    expect(other.log.verify()).toMatchObject({ ok: false, broken: { id: 3 } });
  });

  it('seals entries written before the chain existed, once, and chains new ones after them', () => {
    const dir = tmpDir('spact-chain-');
    const file = path.join(dir, 'library.sqlite');
    const v4 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 4)) v4.exec(m.sql);
    v4.pragma('user_version = 4');
    const insert = v4.prepare(`INSERT INTO audit_log (at, actor, action, object) VALUES (?, 'admin', ?, NULL)`);
    insert.run('2026-01-01T00:00:00Z', 'settings');
    insert.run('2026-01-02T00:00:00Z', 'export');
    v4.close();

    const db = openDatabase(file);
    const log = new AuditLog(db);
    log.record('admin', 'raw-view', 'clip:1');
    expect(log.verify()).toMatchObject({ ok: true, entries: 3 });
    // Reopening seals nothing again and the chain still holds.
    db.close();
    const again = openDatabase(file);
    expect(new AuditLog(again).verify()).toMatchObject({ ok: true, entries: 3 });
    again.close();
  });
});

describe('spact audit-log verify', () => {
  it('exits 0 on a whole log and 1 naming the first broken link after an edit or a removal', () => {
    const dir = tmpDir('spact-chain-cli-');
    const db = openDatabase(path.join(dir, 'library.sqlite'));
    const log = new AuditLog(db);
    for (let i = 1; i <= 4; i++) log.record('admin', 'raw-view', `clip:${i}`);
    const ok = spactSync(['audit-log', 'verify', '--data-dir', dir, '--json']);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; entries: number; head: string };
    expect(report).toMatchObject({ ok: true, entries: 4 });
    // A head noted earlier still anchors the log.
    expect(spactSync(['audit-log', 'verify', '--data-dir', dir, '--head', report.head]).code).toBe(0);

    db.prepare(`UPDATE audit_log SET actor = 'viewer' WHERE id = 2`).run();
    const edited = spactSync(['audit-log', 'verify', '--data-dir', dir]);
    expect(edited.code).toBe(1);
    expect(edited.stdout).toMatch(/BROKEN.*entry 2 was changed after it was written/);

    db.prepare(`UPDATE audit_log SET actor = 'admin' WHERE id = 2`).run();
    expect(spactSync(['audit-log', 'verify', '--data-dir', dir]).code).toBe(0);
    db.prepare(`DELETE FROM audit_log WHERE id = 3`).run();
    const removed = spactSync(['audit-log', 'verify', '--data-dir', dir, '--json']);
    expect(removed.code).toBe(1);
    expect(JSON.parse(removed.stdout)).toMatchObject({ ok: false, broken: { id: 4 } });
    db.close();

    expect(spactSync(['audit-log', 'verify', '--data-dir', path.join(dir, 'none')]).code).toBe(2);
    expect(spactSync(['audit-log', 'check', '--data-dir', dir]).code).toBe(2);
    expect(fs.existsSync(path.join(dir, 'none'))).toBe(false);
  });
});
