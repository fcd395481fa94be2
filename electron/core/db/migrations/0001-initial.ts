// Schema 1: the library. STRICT tables, foreign keys; JSON columns hold configs and manifests.
export const sql = `
CREATE TABLE rooms (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  active_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE cameras (
  id INTEGER PRIMARY KEY,
  room_id INTEGER REFERENCES rooms(id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('local', 'file', 'rtsp', 'http')),
  source TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE clips (
  id INTEGER PRIMARY KEY,
  room_id INTEGER REFERENCES rooms(id) ON DELETE SET NULL,
  camera_id INTEGER REFERENCES cameras(id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  source TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  stored TEXT NOT NULL CHECK (stored IN ('copy', 'link')),
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  fps REAL NOT NULL,
  has_audio INTEGER NOT NULL,
  imported_at TEXT NOT NULL
) STRICT;
CREATE INDEX clips_room ON clips(room_id);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('train', 'finetune')),
  room_id INTEGER REFERENCES rooms(id) ON DELETE SET NULL,
  config TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  progress REAL NOT NULL DEFAULT 0,
  run_dir TEXT NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
) STRICT;

CREATE TABLE run_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  phase TEXT NOT NULL,
  loss_t REAL,
  loss_b REAL,
  l1 REAL,
  acc_t REAL,
  ms REAL,
  PRIMARY KEY (run_id, step)
) STRICT;

CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checkpoint TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  preset TEXT,
  metrics TEXT,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE outputs (
  id INTEGER PRIMARY KEY,
  clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
  model_id INTEGER NOT NULL REFERENCES models(id),
  path TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  settings TEXT NOT NULL,
  frames INTEGER NOT NULL,
  fps REAL NOT NULL,
  duration_s REAL NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX outputs_clip ON outputs(clip_id);

CREATE TABLE exports (
  id INTEGER PRIMARY KEY,
  destination TEXT NOT NULL,
  manifest TEXT NOT NULL,
  items INTEGER NOT NULL,
  actor TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE export_items (
  export_id INTEGER NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
  output_id INTEGER NOT NULL REFERENCES outputs(id),
  PRIMARY KEY (export_id, output_id)
) STRICT;

CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  progress REAL NOT NULL DEFAULT 0,
  message TEXT,
  result TEXT,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 2,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
) STRICT;
CREATE INDEX jobs_status ON jobs(status);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT,
  details TEXT
) STRICT;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  pin_hash TEXT NOT NULL,
  created_at TEXT NOT NULL
) STRICT;
`;
