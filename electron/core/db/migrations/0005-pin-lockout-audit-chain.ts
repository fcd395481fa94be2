// Schema 5: PIN back-off and a tamper-evident audit log.
// - pin_attempts: wrong PINs in a row per role and until when the role is locked (ms since the
//   epoch), so a restart does not hand an attacker fresh tries.
// - pin_lockouts: each lockout, kept until an admin has seen (acknowledged) it.
// - audit_log.prev_hash/hash: every entry stores the hash of the one before it and its own hash
//   over both (electron/core/audit/audit-log.ts); audit_chain holds the newest link, so removing
//   the newest entries is detected too, and legacy_upto the entries written before this schema
//   (sealed once, in order, by the app; rows added later without a hash are breaks).
export const sql = `
CREATE TABLE pin_attempts (
  role TEXT PRIMARY KEY CHECK (role IN ('admin', 'operator', 'viewer')),
  failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  last_failure_at TEXT,
  locked_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE pin_lockouts (
  id INTEGER PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  at TEXT NOT NULL,
  failures INTEGER NOT NULL,
  locked_for_s INTEGER NOT NULL,
  acknowledged_at TEXT
) STRICT;

ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

CREATE TABLE audit_chain (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  legacy_upto INTEGER NOT NULL,
  last_id INTEGER,
  last_hash TEXT
) STRICT;
INSERT INTO audit_chain (id, legacy_upto) SELECT 1, COALESCE(MAX(id), 0) FROM audit_log;
`;
