// Who did what, when: exports, raw views by admins, role changes, model promotions.
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

export class AuditLog {
  constructor(private readonly db: Db) {}

  record(actor: string, action: string, object: string | null, details?: unknown): void {
    this.db
      .prepare(`INSERT INTO audit_log (at, actor, action, object, details) VALUES (?, ?, ?, ?, ?)`)
      .run(nowIso(), actor, action, object, details === undefined ? null : JSON.stringify(details));
  }

  entries(limit = 200): AuditEntry[] {
    const rows = this.db.prepare(`SELECT * FROM audit_log ORDER BY id DESC LIMIT ?`).all(limit) as {
      id: number;
      at: string;
      actor: string;
      action: string;
      object: string | null;
      details: string | null;
    }[];
    return rows.map((r) => ({ ...r, details: r.details === null ? null : JSON.parse(r.details) }));
  }
}
