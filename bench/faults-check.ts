// The invariants a data folder must hold after any crash and one restart (issue 13, item 8), used
// by the fault-injection runner (bench/faults.ts) and its CI test. Each violation is one line that
// names the rule and the thing that breaks it; an empty list means the folder is sound.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';

import { isSealedFile, SealedReader } from '../electron/core/vault/sealed-file.js';
import { unlockFromEnvironment, Vault, VAULT_FILE, vaultById } from '../electron/core/vault/vault.js';

/** Temporary files as the app names them (see electron/core/jobs/reconcile.ts). */
const TMP_FILE = /\.tmp-\d+(?:\.[A-Za-z0-9]+)?$/;
/** An export's clip files: finished-looking unless renamed `.incomplete`. */
const EXPORT_CLIP = /^clip-\d{4}-[0-9a-f]{8}\.mp4$/;

export interface FaultCheckInput {
  dataDir: string;
  /** Export folders the trials wrote into (they live outside the data folder). */
  exportDirs?: string[];
  /** Files the user imported from: they must never change. */
  sources?: { path: string; sha256: string }[];
}

/** sha256 of a file; of sealed raw footage, of its plaintext (the vault must be open). */
export function sha256Of(file: string): string {
  if (!isSealedFile(file)) return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const h = crypto.createHash('sha256');
  for (const chunk of new SealedReader(file, vaultById).chunksSync()) h.update(chunk);
  return h.digest('hex');
}

function walk(dir: string, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

interface ManifestLike {
  items?: { file?: string; sha256?: string }[];
}

/** Every violation of the crash invariants in this data folder and these export folders. */
export function checkAfterCrash(input: FaultCheckInput): string[] {
  const v: string[] = [];
  const dbFile = path.join(input.dataDir, 'library.sqlite');
  if (!fs.existsSync(dbFile)) return v; // killed before the library was created: nothing to hold

  if (fs.existsSync(path.join(input.dataDir, VAULT_FILE))) {
    try {
      Vault.open(input.dataDir, unlockFromEnvironment()); // to check the sealed raw copies
    } catch (err) {
      v.push(`vault: ${(err as Error).message}`);
      return v;
    }
  }
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    if (integrity.length !== 1 || integrity[0]!.integrity_check !== 'ok')
      v.push(`integrity: ${integrity.map((r) => r.integrity_check).join('; ')}`);
    const fk = db.prepare('PRAGMA foreign_key_check').all();
    if (fk.length) v.push(`integrity: ${fk.length} foreign key violation(s)`);

    // Orphan temporary files anywhere the app or an export writes.
    for (const f of [...walk(input.dataDir), ...(input.exportDirs ?? []).flatMap((d) => walk(d))])
      if (TMP_FILE.test(path.basename(f))) v.push(`orphan temporary file: ${f}`);

    // Raw copies and outputs: every file has its row, every row its intact file.
    const clips = db.prepare(`SELECT id, path, stored, sha256 FROM clips`).all() as {
      id: number;
      path: string;
      stored: string;
      sha256: string;
    }[];
    const clipPaths = new Set(clips.map((c) => path.resolve(c.path)));
    for (const f of walk(path.join(input.dataDir, 'clips')))
      if (!TMP_FILE.test(f) && !clipPaths.has(path.resolve(f))) v.push(`raw file without its clip row: ${f}`);
    for (const c of clips) {
      if (!fs.existsSync(c.path)) v.push(`clip ${c.id}: its raw file is missing`);
      else if (sha256Of(c.path) !== c.sha256) v.push(`clip ${c.id}: its raw file changed (sha256)`);
    }
    const outputs = db.prepare(`SELECT id, path, sha256 FROM outputs`).all() as {
      id: number;
      path: string;
      sha256: string;
    }[];
    const outputPaths = new Set(outputs.map((o) => path.resolve(o.path)));
    for (const f of walk(path.join(input.dataDir, 'outputs')))
      if (!TMP_FILE.test(f) && !outputPaths.has(path.resolve(f)))
        v.push(`finished-looking output without its row: ${f}`);
    for (const o of outputs) {
      if (!fs.existsSync(o.path)) v.push(`output ${o.id}: its file is missing`);
      else if (sha256Of(o.path) !== o.sha256) v.push(`output ${o.id}: its file does not match its sha256`);
    }

    // Exports: what looks finished in a folder is recorded, and what is recorded is there.
    const exportsRows = db.prepare(`SELECT id, destination, manifest FROM exports`).all() as {
      id: number;
      destination: string;
      manifest: string;
    }[];
    for (const dir of input.exportDirs ?? []) {
      if (!fs.existsSync(dir)) continue;
      const rows = exportsRows.filter((r) => path.resolve(r.destination) === path.resolve(dir));
      const recorded = new Map<string, string>();
      for (const r of rows)
        for (const it of (JSON.parse(r.manifest) as ManifestLike).items ?? [])
          if (it.file && it.sha256) recorded.set(it.file, it.sha256);
      for (const name of fs.readdirSync(dir)) {
        if (name === 'manifest.json' && rows.length === 0)
          v.push(`finished-looking export without its row: ${path.join(dir, name)}`);
        if (EXPORT_CLIP.test(name) && !recorded.has(name))
          v.push(`finished-looking export file without its row: ${path.join(dir, name)}`);
      }
      for (const [file, sha] of recorded) {
        const p = path.join(dir, file);
        if (!fs.existsSync(p)) v.push(`export of ${dir}: recorded file ${file} is missing`);
        else if (sha256Of(p) !== sha) v.push(`export of ${dir}: ${file} does not match its manifest`);
      }
    }

    // Jobs end: done, failed or cancelled; none left queued or running after a restart, and none
    // interrupted more than twice (a requeue loop would count up).
    const jobs = db.prepare(`SELECT id, kind, status, interruptions FROM jobs`).all() as {
      id: number;
      kind: string;
      status: string;
      interruptions: number;
    }[];
    for (const j of jobs) {
      if (!['done', 'failed', 'cancelled'].includes(j.status))
        v.push(`job ${j.id} (${j.kind}) is ${j.status} after the restart`);
      if (j.interruptions > 2) v.push(`job ${j.id} (${j.kind}) was interrupted ${j.interruptions} times (requeued)`);
      if (j.interruptions >= 2 && j.status !== 'failed')
        v.push(`job ${j.id} (${j.kind}) was interrupted twice but is ${j.status}`);
    }
    // Runs end too; a failed run that says it can be resumed has its checkpoint.
    const runs = db.prepare(`SELECT id, status, error, run_dir FROM runs`).all() as {
      id: number;
      status: string;
      error: string | null;
      run_dir: string;
    }[];
    for (const r of runs) {
      if (!['done', 'failed', 'cancelled'].includes(r.status)) v.push(`run ${r.id} is ${r.status} after the restart`);
      if (
        r.status === 'failed' &&
        /resume it/.test(r.error ?? '') &&
        !fs.existsSync(path.join(r.run_dir, 'checkpoint.pt'))
      )
        v.push(`run ${r.id} says it can be resumed but has no checkpoint`);
      if (r.status === 'done' && !db.prepare(`SELECT 1 FROM models WHERE run_id = ?`).get(r.id))
        v.push(`run ${r.id} is done but registered no model`);
    }
  } finally {
    db.close();
  }

  for (const s of input.sources ?? []) {
    if (!fs.existsSync(s.path)) v.push(`source file removed: ${s.path}`);
    else if (sha256Of(s.path) !== s.sha256) v.push(`source file changed: ${s.path}`);
  }
  return v;
}
