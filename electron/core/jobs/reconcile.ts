// Start-up reconciliation of what interrupted jobs left on disk (the rows are recovered by the job
// runner, runs by RunsService.reconcile):
// - Orphan temporary files — `NAME.tmp-PID[.ext]` and `.NAME.tmp-PID[.ext]`, as imports (partial
//   raw copies in clips/), anonymization (hidden partial outputs), thumbnails, audits and exports
//   write them — are removed when the process PID that wrote them is no longer alive. A file of a
//   live process (another SPAct, this one) is kept.
// - An export interrupted before its database row: when its folder holds a complete and
//   consistent manifest (every file present with its sha256, every item one of our outputs) it is
//   finished — its `exports` row, items and audit entry are written and its job is done. Otherwise,
//   when its job is failed, the folder is labelled incomplete: an `INCOMPLETE` file says why, and
//   the export's files get an `.incomplete` suffix (manifest.json.incomplete, clip-….mp4.incomplete)
//   so nothing in it looks finished. Files of earlier, recorded exports into the same folder stay.
//   A requeued export loses its temporary files and the files it wrote: its next run writes the
//   folder again.
// - An import killed after its copy got its library name but before its row: the copy keeps its
//   temporary name as a hard link until the row exists (LibraryService.importClip), so a dead
//   import's temporary file that shares its inode with a library file no row names marks that
//   file as never recorded: both go (raw video in no row could never be deleted by anyone).
// - An anonymization killed after its output's row was written but before the output got its own
//   name (AnonymizeService.anonymizeClip writes `NAME.tmp-PID` first): the row names NAME, so the
//   temporary file is renamed to it rather than removed.
// Hashing runs off the event loop's critical path (async reads); nothing here waits on a job.
import fs from 'node:fs';
import path from 'node:path';

import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import type { ExportManifest } from '../export/export-service.js';
import { sha256File } from '../library/library-service.js';
import type { JobRecord } from './job-runner.js';

/** Temporary files as the app names them: the writer's PID follows `.tmp-`. */
const TMP_FILE = /\.tmp-(\d+)(?:\.[A-Za-z0-9]+)?$/;
/** An export's clip files (positional names, see ExportService). */
const EXPORT_CLIP = /^clip-\d{4}-[0-9a-f]{8}\.mp4$/;
export const INCOMPLETE_MARKER = 'INCOMPLETE';

export interface ReconcileReport {
  /** Orphan temporary files removed. */
  removed: string[];
  /** Temporary files kept because their process is alive. */
  kept: string[];
  /** Export folders finished from their manifest (export ids). */
  exportsFinished: number[];
  /** Export folders labelled incomplete. */
  exportsIncomplete: string[];
  /** Library outputs whose row existed and whose file was renamed into place. */
  outputsFinished: string[];
}

/** Whether a process with this id exists (EPERM: it does, owned by another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary files of dead processes under `dir` (to `depth` folders down). */
export function removeOrphanTmpFiles(
  dir: string,
  report: Pick<ReconcileReport, 'removed' | 'kept'>,
  opts: { depth?: number; skip?: string[] } = {},
): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // missing or unreadable: nothing to clean
  }
  for (const e of entries) {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) {
      if ((opts.depth ?? 3) > 0 && !(opts.skip ?? []).includes(e.name))
        removeOrphanTmpFiles(file, report, { ...opts, depth: (opts.depth ?? 3) - 1, skip: [] });
      continue;
    }
    const m = TMP_FILE.exec(e.name);
    if (!m || !e.isFile()) continue;
    if (pidAlive(Number(m[1]))) {
      report.kept.push(file);
      continue;
    }
    try {
      fs.rmSync(file, { force: true });
      report.removed.push(file);
    } catch {
      report.kept.push(file);
    }
  }
}

/**
 * Removes the raw copies in `clipsDir` that a dead import published but never recorded (see the
 * header). Runs before the generic clean-up, which would otherwise remove the marker first.
 */
export function removeUnrecordedImports(db: Db, clipsDir: string, report: Pick<ReconcileReport, 'removed'>): void {
  let names: string[];
  try {
    names = fs.readdirSync(clipsDir);
  } catch {
    return;
  }
  const recorded = db.prepare(`SELECT 1 FROM clips WHERE path = ?`);
  for (const name of names) {
    const m = /^(.*)\.tmp-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    const tmp = path.join(clipsDir, name);
    const stored = path.join(clipsDir, m[1]!);
    try {
      const [a, b] = [fs.statSync(tmp), fs.statSync(stored)];
      if (a.ino !== b.ino || a.dev !== b.dev || recorded.get(stored)) continue;
      fs.rmSync(stored, { force: true });
      report.removed.push(stored);
    } catch {
      // no library file of that name: only the temporary copy is left, removed with the others
    }
  }
}

/** Gives recorded library outputs of dead writers their names (see the header). */
export function finishRecordedOutputs(
  db: Db,
  outputsDir: string,
  report: Pick<ReconcileReport, 'outputsFinished'>,
): void {
  let names: string[];
  try {
    names = fs.readdirSync(outputsDir);
  } catch {
    return;
  }
  const recorded = db.prepare(`SELECT 1 FROM outputs WHERE path = ?`);
  for (const name of names) {
    const m = /^([^.].*\.mp4)\.tmp-(\d+)$/.exec(name);
    if (!m || pidAlive(Number(m[2]))) continue;
    const file = path.join(outputsDir, m[1]!);
    if (fs.existsSync(file) || !recorded.get(file)) continue;
    try {
      fs.renameSync(path.join(outputsDir, name), file);
      report.outputsFinished.push(file);
    } catch {
      // left for the generic clean-up
    }
  }
}

function readManifest(file: string): ExportManifest | null {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as ExportManifest;
    return m && m.format === 'spact-export' && Array.isArray(m.items) ? m : null;
  } catch {
    return null;
  }
}

interface ExportPayload {
  to: string;
  actor: string;
}

/** Output ids for every manifest item when the folder is complete and consistent, else null. */
async function completeExport(db: Db, dest: string, manifest: ExportManifest): Promise<number[] | null> {
  if (manifest.items.length === 0) return null;
  const ids: number[] = [];
  for (const item of manifest.items) {
    const file = path.join(dest, path.basename(item.file));
    if (!fs.existsSync(file)) return null;
    if ((await sha256File(file)) !== item.sha256) return null;
    const out = db.prepare(`SELECT id FROM outputs WHERE sha256 = ? ORDER BY id DESC LIMIT 1`).get(item.sha256) as
      { id: number } | undefined;
    if (!out) return null;
    ids.push(out.id);
  }
  return ids;
}

function renameAside(file: string): void {
  let target = `${file}.incomplete`;
  for (let n = 2; fs.existsSync(target); n++) target = `${file}.incomplete-${n}`;
  fs.renameSync(file, target);
}

async function reconcileExport(
  deps: { db: Db; audit: AuditLog },
  job: JobRecord,
  report: ReconcileReport,
): Promise<void> {
  const { db, audit } = deps;
  const p = job.payload as ExportPayload;
  if (typeof p?.to !== 'string') return;
  const dest = path.resolve(p.to);
  if (!fs.existsSync(dest)) return;
  removeOrphanTmpFiles(dest, report, { depth: 0 });
  const setJob = db.prepare(
    `UPDATE jobs SET status = ?, progress = CASE WHEN ? = 'done' THEN 1 ELSE progress END, result = ?, error = ?, finished_at = ? WHERE id = ?`,
  );
  // Recorded after the job started: the export finished; only its job row missed the end.
  const row = db
    .prepare(
      `SELECT id, manifest, items FROM exports WHERE destination = ? AND created_at >= ? ORDER BY id DESC LIMIT 1`,
    )
    .get(dest, job.createdAt) as { id: number; manifest: string; items: number } | undefined;
  const manifestPath = path.join(dest, 'manifest.json');
  if (row) {
    setJob.run(
      'done',
      'done',
      JSON.stringify({ id: row.id, destination: dest, manifest: manifestPath, items: row.items }),
      null,
      nowIso(),
      job.id,
    );
    return;
  }
  const manifest = fs.existsSync(manifestPath) ? readManifest(manifestPath) : null;
  const outputIds = manifest ? await completeExport(db, dest, manifest) : null;
  if (manifest && outputIds) {
    const id = db.transaction(() => {
      const info = db
        .prepare(`INSERT INTO exports (destination, manifest, items, actor, created_at) VALUES (?, ?, ?, ?, ?)`)
        .run(dest, JSON.stringify(manifest), outputIds.length, p.actor ?? 'unknown', manifest.createdAt ?? nowIso());
      const exportId = Number(info.lastInsertRowid);
      const item = db.prepare(`INSERT OR IGNORE INTO export_items (export_id, output_id) VALUES (?, ?)`);
      for (const o of outputIds) item.run(exportId, o);
      audit.record(p.actor ?? 'unknown', 'export', `export:${exportId}`, {
        destination: dest,
        items: outputIds.length,
        reconciled: 'finished at start-up from its complete manifest',
      });
      setJob.run(
        'done',
        'done',
        JSON.stringify({ id: exportId, destination: dest, manifest: manifestPath, items: outputIds.length }),
        null,
        nowIso(),
        job.id,
      );
      return exportId;
    })();
    report.exportsFinished.push(id);
    return;
  }
  // Files of recorded exports into the same folder are theirs, not this export's.
  const recorded = new Set<string>();
  for (const r of db.prepare(`SELECT manifest FROM exports WHERE destination = ?`).all(dest) as {
    manifest: string;
  }[]) {
    try {
      for (const it of (JSON.parse(r.manifest) as ExportManifest).items) recorded.add(it.file);
    } catch {
      // an unreadable stored manifest protects nothing
    }
  }
  const own = (name: string) => name === 'manifest.json' || (EXPORT_CLIP.test(name) && !recorded.has(name));
  if (job.status !== 'failed') {
    // Requeued: its next run writes the folder again, and must find it as it was before (empty,
    // unless it was asked to overwrite), or it would refuse it and leave these files behind.
    for (const name of fs.readdirSync(dest)) if (own(name)) fs.rmSync(path.join(dest, name), { force: true });
    return;
  }
  let labelled = 0;
  for (const name of fs.readdirSync(dest)) {
    if (own(name)) {
      renameAside(path.join(dest, name));
      labelled++;
    }
  }
  const why =
    `This export (job ${job.id}) was interrupted before it was recorded: it is incomplete and must not be used.\n` +
    `${labelled} file(s) were renamed with the suffix .incomplete. Export again to a folder of your choice.\n`;
  fs.writeFileSync(path.join(dest, INCOMPLETE_MARKER), why);
  setJob.run(
    'failed',
    'failed',
    null,
    `${job.error ?? 'interrupted'}; the export folder is incomplete (labelled ${INCOMPLETE_MARKER})`,
    nowIso(),
    job.id,
  );
  report.exportsIncomplete.push(dest);
}

/**
 * Reconciles the data folder and the folders of interrupted exports with the database. `interrupted`
 * is what the job runner recovered (SqliteJobRunner.recover). Never throws: a folder it cannot read
 * or fix is left as it is.
 */
export async function reconcileFiles(deps: {
  db: Db;
  audit: AuditLog;
  dataDir: string;
  interrupted: JobRecord[];
}): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    removed: [],
    kept: [],
    exportsFinished: [],
    exportsIncomplete: [],
    outputsFinished: [],
  };
  removeUnrecordedImports(deps.db, path.join(deps.dataDir, 'clips'), report);
  finishRecordedOutputs(deps.db, path.join(deps.dataDir, 'outputs'), report);
  // runs/ included: a checkpoint a killed fine-tune was writing (checkpoint.pt.tmp-PID) is never
  // what a resume reads (it reads checkpoint.pt); its other files have no `.tmp-PID` name.
  removeOrphanTmpFiles(deps.dataDir, report, { depth: 3 });
  for (const job of deps.interrupted) {
    if (job.kind !== 'export') continue;
    try {
      await reconcileExport(deps, job, report);
    } catch {
      // left as it is: reconciliation must never stop the app from starting
    }
  }
  return report;
}
