// Who did what, when: exports, raw views by admins, role changes, PIN lockouts, model promotions.
// The log is hash-chained: each entry stores the hash of the entry before it and its own hash over
// that link and its content, and audit_chain keeps the newest link. An edited, removed or inserted
// entry (or removed newest entries) breaks the chain and `verify()` names the first break. Without
// a secret, someone who can write the database can rebuild the whole chain: `verify()` returns the
// head hash so an auditor can note it elsewhere and compare it later (`spact audit-log verify --head`).
import { createHash } from 'node:crypto';

import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  object: string | null;
  details: unknown;
}

/** The link before the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

interface Row {
  id: number;
  at: string;
  actor: string;
  action: string;
  object: string | null;
  details: string | null;
  prev_hash: string | null;
  hash: string | null;
}

interface Head {
  legacy_upto: number;
  last_id: number | null;
  last_hash: string | null;
}

/** The hash of one entry: its link to the entry before and every stored field, id included. */
export function entryHash(prevHash: string, r: Omit<Row, 'prev_hash' | 'hash'>): string {
  return createHash('sha256')
    .update(prevHash)
    .update('\n')
    .update(JSON.stringify([r.id, r.at, r.actor, r.action, r.object, r.details]))
    .digest('hex');
}

export interface ChainReport {
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** The newest link (what an auditor notes to detect a rebuilt chain later); null when empty. */
  head: string | null;
  /** The first broken link, in words. */
  broken?: { id: number | null; reason: string };
}

export class AuditLog {
  constructor(private readonly db: Db) {
    if (!db.readonly) this.sealLegacy();
  }

  private head(): Head {
    const h = this.db.prepare(`SELECT legacy_upto, last_id, last_hash FROM audit_chain WHERE id = 1`).get() as
      Head | undefined;
    // A removed head row is a break verify() reports; appends start a fresh row so they still chain.
    if (!h) this.db.prepare(`INSERT INTO audit_chain (id, legacy_upto) VALUES (1, 0)`).run();
    return h ?? { legacy_upto: 0, last_id: null, last_hash: null };
  }

  /** Entries written before the chain existed are sealed once, in order, as they stand. */
  private sealLegacy(): void {
    const head = this.head();
    const pending = this.db
      .prepare(`SELECT 1 FROM audit_log WHERE hash IS NULL AND id <= ? LIMIT 1`)
      .get(head.legacy_upto);
    if (!pending) return;
    this.db
      .transaction(() => {
        const h = this.head();
        let prev = h.last_hash ?? GENESIS_HASH;
        let lastId = h.last_id;
        const rows = this.db
          .prepare(`SELECT * FROM audit_log WHERE hash IS NULL AND id <= ? AND id > ? ORDER BY id`)
          .all(h.legacy_upto, h.last_id ?? 0) as Row[];
        const seal = this.db.prepare(`UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?`);
        for (const r of rows) {
          const hash = entryHash(prev, r);
          seal.run(prev, hash, r.id);
          prev = hash;
          lastId = r.id;
        }
        this.db.prepare(`UPDATE audit_chain SET last_id = ?, last_hash = ? WHERE id = 1`).run(lastId, prev);
      })
      .immediate();
  }

  record(actor: string, action: string, object: string | null, details?: unknown): void {
    const detailsText = details === undefined ? null : JSON.stringify(details);
    // One writer at a time (BEGIN IMMEDIATE): the CLI and the app may append to the same chain.
    const append = this.db.transaction(() => {
      const prev = this.head().last_hash ?? GENESIS_HASH;
      const at = nowIso();
      const id = Number(
        this.db
          .prepare(`INSERT INTO audit_log (at, actor, action, object, details) VALUES (?, ?, ?, ?, ?)`)
          .run(at, actor, action, object, detailsText).lastInsertRowid,
      );
      const hash = entryHash(prev, { id, at, actor, action, object, details: detailsText });
      this.db.prepare(`UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?`).run(prev, hash, id);
      this.db.prepare(`UPDATE audit_chain SET last_id = ?, last_hash = ? WHERE id = 1`).run(id, hash);
    });
    if (this.db.inTransaction) append();
    else append.immediate();
  }

  entries(limit = 200): AuditEntry[] {
    const rows = this.db
      .prepare(`SELECT id, at, actor, action, object, details FROM audit_log ORDER BY id DESC LIMIT ?`)
      .all(limit) as Omit<Row, 'prev_hash' | 'hash'>[];
    return rows.map((r) => ({ ...r, details: r.details === null ? null : JSON.parse(r.details) }));
  }

  /** Whether an entry with this hash is in the log (a head noted earlier). */
  containsHash(hash: string): boolean {
    return this.db.prepare(`SELECT 1 FROM audit_log WHERE hash = ?`).get(hash) !== undefined;
  }

  /** Walks the chain from the first entry and reports the first broken link. */
  verify(): ChainReport {
    const stored = this.db.prepare(`SELECT legacy_upto, last_id, last_hash FROM audit_chain WHERE id = 1`).get() as
      Head | undefined;
    if (!stored)
      return { ok: false, entries: 0, head: null, broken: { id: null, reason: 'the chain head was removed' } };
    const head = stored;
    let prev = GENESIS_HASH;
    let prevId: number | null = null;
    let entries = 0;
    const fail = (id: number | null, reason: string): ChainReport => ({
      ok: false,
      entries,
      head: head.last_hash,
      broken: { id, reason },
    });
    for (const r of this.db.prepare(`SELECT * FROM audit_log ORDER BY id`).iterate() as IterableIterator<Row>) {
      entries++;
      if (r.hash === null || r.prev_hash === null)
        return fail(r.id, `entry ${r.id} is not part of the chain (added outside the app)`);
      if (r.prev_hash !== prev)
        return fail(
          r.id,
          prevId === null
            ? `entry ${r.id} does not link to the start of the log: the entries before it were removed`
            : `entry ${r.id} does not link to entry ${prevId}: an entry between them was removed or inserted`,
        );
      if (entryHash(prev, r) !== r.hash) return fail(r.id, `entry ${r.id} was changed after it was written`);
      prev = r.hash;
      prevId = r.id;
    }
    if ((head.last_hash ?? GENESIS_HASH) !== prev || head.last_id !== prevId)
      return fail(
        head.last_id,
        prevId === null
          ? `the log is empty but its chain ends at entry ${head.last_id}: every entry was removed`
          : `the log ends at entry ${prevId} but its chain ends at entry ${head.last_id}: the newest entries were removed`,
      );
    return { ok: true, entries, head: head.last_hash };
  }
}
