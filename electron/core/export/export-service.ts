// Export for cloud action recognition: anonymized outputs (never raw clips) copied to a folder
// with a manifest.json (hashes, timing, model identity, settings; no raw paths, no names). The
// files are verified after copying; the export is recorded in `exports` and `audit_log` in one
// transaction. A failure removes whatever this export had written.
import fs from 'node:fs';
import path from 'node:path';

import type { ExportPlanView, FolderListing } from '../../contract.js';
import type { AnonymizeService, OutputRecord } from '../anonymize/anonymize-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { checkDestination } from '../destinations.js';
import { SpactError } from '../errors.js';
import type { LibraryService } from '../library/library-service.js';
import { sha256File } from '../library/library-service.js';
import { exportPlan, mixedModelsError, modelMix } from './export-plan.js';
import { defaultExportRoots, FolderBrowser } from './folder-browser.js';

export interface ExportManifest {
  format: 'spact-export';
  version: 1;
  createdAt: string;
  items: {
    file: string;
    sha256: string;
    durationS: number;
    fps: number;
    frames: number;
    model: { id: number; sha256: string };
    anonymization: { size: number; batch: number; keepAudio: boolean; width: number; height: number };
    roomId?: number;
  }[];
  /** The models that made the items (each item names its own); more than one only when the
   *  export was asked to mix them (mixedModels: true). */
  models?: { id: number; sha256: string; clips: number }[];
  mixedModels?: boolean;
}

export interface ExportResult {
  id: number;
  destination: string;
  manifest: string;
  items: number;
}

export class ExportService {
  private browser: FolderBrowser | null = null;

  constructor(
    private readonly db: Db,
    private readonly library: LibraryService,
    private readonly anonymize: AnonymizeService,
    private readonly audit: AuditLog,
    /** Where browser mode's folder picker may go (default: defaultExportRoots()). */
    private readonly roots?: string[],
  ) {}

  /** Which output and model each clip of an export would take. */
  plan(what: { clipIds?: number[]; roomId?: number }): ExportPlanView {
    return exportPlan(this.library, this.anonymize, what);
  }

  /** Refuses an export whose clips were made by different models, unless asked to mix them. */
  checkModels(what: { clipIds?: number[]; roomId?: number }, allowMixedModels: boolean): void {
    const plan = this.plan(what);
    if (plan.mixed && !allowMixedModels) throw mixedModelsError(plan);
  }

  /** Browser mode's folder picker (the roots are read on first use). */
  browse(p?: string): Promise<FolderListing> {
    this.browser ??= new FolderBrowser(this.roots ?? defaultExportRoots());
    return this.browser.list(p);
  }

  /**
   * Checks an export folder before an export is queued or started (see checkDestinations): an
   * absolute path off system file systems, creatable and writable, and empty unless `overwrite`.
   * Off the calling thread, within 2 s.
   */
  async checkDestination(to: string, opts: { overwrite?: boolean; overwriteHint?: string } = {}): Promise<string> {
    await checkDestination(to, 'folder', 'the export folder', {
      requireEmpty: true,
      overwrite: opts.overwrite ?? false,
      overwriteHint:
        opts.overwriteHint ?? 'export with overwrite to write into it anyway (files of the same name are replaced)',
    });
    return path.normalize(to);
  }

  async exportClips(opts: {
    clipIds?: number[];
    roomId?: number;
    /** The export folder: an absolute path (the CLI resolves it against the user's folder). */
    to: string;
    actor: string;
    /** Write into a folder that is not empty (files of the same name are replaced). */
    overwrite?: boolean;
    /** How the user asks for `overwrite`, ending the message when the folder is not empty. */
    overwriteHint?: string;
    /** Include room ids in the manifest (off: the cloud does not need to know which room). */
    includeRoom?: boolean;
    /** Export outputs made by different models (each item names its model); refused otherwise. */
    allowMixedModels?: boolean;
    modelId?: number;
    signal?: AbortSignal;
    onProgress?: (fraction: number) => void;
  }): Promise<ExportResult> {
    // The folder is checked before anything else touches it: a path on a system file system can
    // hang a mkdir for good, and an export never mixes its files into a folder unasked.
    const dest = await this.checkDestination(opts.to, {
      ...(opts.overwrite !== undefined ? { overwrite: opts.overwrite } : {}),
      ...(opts.overwriteHint !== undefined ? { overwriteHint: opts.overwriteHint } : {}),
    });
    const clipIds =
      opts.clipIds ?? (opts.roomId !== undefined ? this.library.clips({ roomId: opts.roomId }).map((c) => c.id) : []);
    if (clipIds.length === 0)
      throw new SpactError('validation', 'nothing to export: choose clips or a room with clips');
    // Only anonymized outputs are exportable; a clip without one stops the export before any write.
    const outputs: OutputRecord[] = clipIds.map((id) => {
      // Named as the operator knows it (the clip's name, its id beside it).
      const clip = this.library.clip(id);
      const o = this.anonymize.latestOutput(id, opts.modelId);
      if (!o)
        throw new SpactError(
          'conflict',
          `clip "${clip.name}" (#${id}) has no anonymized output${opts.modelId ? ` by model ${opts.modelId}` : ''}: anonymize it first`,
        );
      if (!fs.existsSync(o.path))
        throw new SpactError('not-found', `the output file of clip ${id} is missing (${path.basename(o.path)})`);
      return o;
    });
    const mix = modelMix(outputs.map((o) => ({ clipId: o.clipId, modelId: o.modelId })));
    if (mix.mixed && !opts.allowMixedModels) throw mixedModelsError(this.plan({ clipIds }));
    try {
      await fs.promises.mkdir(dest, { recursive: true });
    } catch (err) {
      throw new SpactError(
        'unavailable',
        `the export folder ${dest} could not be created (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
    const written: string[] = [];
    const manifest: ExportManifest = { format: 'spact-export', version: 1, createdAt: nowIso(), items: [] };
    try {
      for (const [i, o] of outputs.entries()) {
        if (opts.signal?.aborted) throw new SpactError('cancelled', 'export cancelled');
        // File names carry no clip names or paths: they are positional.
        const name = `clip-${String(i + 1).padStart(4, '0')}-${o.sha256.slice(0, 8)}.mp4`;
        const target = path.join(dest, name);
        const tmp = path.join(dest, `.${name}.tmp-${process.pid}`);
        written.push(tmp);
        fs.copyFileSync(o.path, tmp);
        const sha = await sha256File(tmp);
        if (sha !== o.sha256)
          throw new SpactError('internal', `output ${o.id} changed on disk since it was made (sha256 mismatch)`);
        fs.renameSync(tmp, target);
        written.push(target);
        const model = this.library.model(o.modelId);
        const clip = this.library.clip(o.clipId);
        manifest.items.push({
          file: name,
          sha256: sha,
          durationS: o.durationS,
          fps: o.fps,
          frames: o.frames,
          model: { id: model.id, sha256: model.sha256 },
          anonymization: o.settings,
          ...(opts.includeRoom && clip.roomId !== null ? { roomId: clip.roomId } : {}),
        });
        opts.onProgress?.((i + 1) / outputs.length);
      }
      manifest.models = mix.models.map((m) => ({ id: m.id, sha256: this.library.model(m.id).sha256, clips: m.clips }));
      if (mix.mixed) manifest.mixedModels = true;
      const manifestPath = path.join(dest, 'manifest.json');
      const tmpManifest = `${manifestPath}.tmp-${process.pid}`;
      written.push(tmpManifest);
      fs.writeFileSync(tmpManifest, `${JSON.stringify(manifest, null, 2)}\n`);
      fs.renameSync(tmpManifest, manifestPath);
      written.push(manifestPath);
      const id = this.db.transaction(() => {
        const info = this.db
          .prepare(`INSERT INTO exports (destination, manifest, items, actor, created_at) VALUES (?, ?, ?, ?, ?)`)
          .run(dest, JSON.stringify(manifest), outputs.length, opts.actor, manifest.createdAt);
        const exportId = Number(info.lastInsertRowid);
        const item = this.db.prepare(`INSERT INTO export_items (export_id, output_id) VALUES (?, ?)`);
        for (const o of outputs) item.run(exportId, o.id);
        this.audit.record(opts.actor, 'export', `export:${exportId}`, { destination: dest, items: outputs.length });
        return exportId;
      })();
      return { id, destination: dest, manifest: manifestPath, items: outputs.length };
    } catch (err) {
      for (const f of written) fs.rmSync(f, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') throw new SpactError('unavailable', `${dest}: the disk is full; nothing was exported`);
      if (code === 'EACCES' || code === 'EROFS')
        throw new SpactError('unavailable', `${dest}: not writable; nothing was exported`);
      throw err;
    }
  }

  exports(): {
    id: number;
    destination: string;
    items: number;
    actor: string;
    createdAt: string;
    models: { id: number; clips: number }[];
  }[] {
    const rows = this.db
      .prepare(`SELECT id, destination, items, actor, created_at AS createdAt, manifest FROM exports ORDER BY id DESC`)
      .all() as {
      id: number;
      destination: string;
      items: number;
      actor: string;
      createdAt: string;
      manifest: string;
    }[];
    return rows.map(({ manifest, ...r }) => ({ ...r, models: manifestModels(manifest) }));
  }
}

/** The models of a stored manifest (older manifests have no summary: counted from the items). */
function manifestModels(json: string): { id: number; clips: number }[] {
  try {
    const m = JSON.parse(json) as ExportManifest;
    return modelMix(m.items.map((it, i) => ({ clipId: i, modelId: it.model.id }))).models;
  } catch {
    return [];
  }
}
