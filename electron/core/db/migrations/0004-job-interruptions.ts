// Schema 4: how many times a job was interrupted (the app stopped while it ran). The runner counts
// them at start-up; a job interrupted twice is failed for good ("interrupted twice; not retried")
// instead of being requeued again, so no job can take the app down at every start.
export const sql = `
ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0 CHECK (interruptions >= 0);
`;
