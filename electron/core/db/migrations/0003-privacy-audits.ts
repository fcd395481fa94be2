// Schema 3: privacy audits of anonymized outputs (electron/core/privacy-audit/video-audit.ts),
// kept so the last audit of a clip survives closing the panel and restarting the app. The whole
// report is stored as JSON; the judged window and the two verdicts are columns for queries. An
// audit belongs to the output it judged and goes with it.
export const sql = `
CREATE TABLE privacy_audits (
  id INTEGER PRIMARY KEY,
  output_id INTEGER NOT NULL REFERENCES outputs(id) ON DELETE CASCADE,
  actor TEXT NOT NULL,
  start_s REAL NOT NULL CHECK (start_s >= 0),
  end_s REAL NOT NULL CHECK (end_s > start_s),
  identity_verdict TEXT NOT NULL CHECK (identity_verdict IN ('inconclusive', 'identifiable', 'beyond-shape', 'shape-only')),
  utility_verdict TEXT NOT NULL CHECK (utility_verdict IN ('inconclusive', 'people-lost', 'people-kept')),
  report TEXT NOT NULL CHECK (json_valid(report)),
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX privacy_audits_output ON privacy_audits(output_id);
`;
