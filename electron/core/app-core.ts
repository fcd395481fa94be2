// The core of the app as one object: database, library, anonymization, export, jobs and audit, for
// a data folder. Used by the Electron main process, browser mode and the CLI alike.
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';

import { defaultModelDir } from '../../native-models/ts/models.js';
import { AnonymizeService, DEFAULT_SETTINGS, type AnonymizeSettings } from './anonymize/anonymize-service.js';
import { AuditLog } from './audit/audit-log.js';
import { openDatabase, type Db } from './db/database.js';
import { systemRootOf } from './destinations.js';
import { SpactError } from './errors.js';
import { ExportService } from './export/export-service.js';
import { SqliteJobRunner, type JobRecord } from './jobs/job-runner.js';
import { reconcileFiles } from './jobs/reconcile.js';
import { LibraryService, type ModelRecord } from './library/library-service.js';
import { OpsLog } from './ops-log.js';
import { runAuditJob, type AuditJob, type PrivacyAuditStore } from './privacy-audit/audit.js';
import type { Judges } from './privacy-audit/judges.js';
import type { RunsService } from './training/runs-service.js';
import { defaultDataDir } from './paths.js';
import { unlockFromEnvironment, Vault, type VaultUnlock } from './vault/vault.js';
import { DistributedJobs, distributedFromEnvironment, type DistributedOptions } from './workers/distributed.js';

export interface AppCore {
  dataDir: string;
  db: Db;
  /** The data folder's key: raw footage and the fields naming people's files are sealed with it. */
  vault: Vault;
  library: LibraryService;
  anonymize: AnonymizeService;
  exports: ExportService;
  audit: AuditLog;
  jobs: SqliteJobRunner;
  /** The shipped default model, registered in the library (null when it is not installed). */
  defaultModel(): ModelRecord | null;
  /** A model by library id, run folder / checkpoint path, or `default`. */
  resolveModel(ref: string | number): ModelRecord;
  /** The operational log (<data folder>/logs/spact.log). */
  opsLog: OpsLog;
  /** Jobs on remote workers (BullMQ on Redis), when the app runs with a Redis URL; else null. */
  distributed?: DistributedJobs | null;
  close(): Promise<void>;
}

export interface AnonymizeJob {
  clipId: number;
  modelId: number;
  settings?: Partial<AnonymizeSettings>;
}

export interface ExportJob {
  clipIds?: number[];
  roomId?: number;
  to: string;
  actor: string;
  includeRoom?: boolean;
  modelId?: number;
  /** Export into a folder that is not empty (asked for by the user). */
  overwrite?: boolean;
}

export function openAppCore(
  opts: {
    dataDir?: string;
    startJobs?: boolean;
    onJobUpdate?: (job: JobRecord) => void;
    device?: string;
    threads?: number;
    /** How to open the vault; default: SPACT_VAULT_KEY (from the Electron shell) or SPACT_PASSPHRASE. */
    unlock?: VaultUnlock;
    /** Register the core's job kinds (anonymize, export) here; default true. false: the caller
     *  calls registerJobKinds itself, once, with the kinds that need its services (services.ts). */
    registerJobs?: boolean;
    /** Anonymize jobs and fine-tune training on workers through BullMQ; default: SPACT_REDIS_URL (set by `spact serve --redis`). */
    distributed?: DistributedOptions | null;
  } = {},
): AppCore {
  const dataDir = path.resolve(opts.dataDir ?? defaultDataDir());
  // By name only (this call is synchronous): mkdir never returns on some system file systems.
  const systemFs = systemRootOf(dataDir);
  if (systemFs)
    throw new SpactError(
      'validation',
      `the data folder ${dataDir} is on a system file system (${systemFs}); choose a folder in your home or on a data disk`,
    );
  try {
    // Owner-only from here on: every file this process writes is 0600, every folder 0700 (a
    // process-wide setting: worker threads cannot change it, their process has).
    if (isMainThread) process.umask(0o077);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dataDir, 0o700);
  } catch (err) {
    throw new SpactError(
      'unavailable',
      `cannot create the data folder ${dataDir}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  const vault = Vault.open(dataDir, opts.unlock ?? unlockFromEnvironment());
  const opsLog = new OpsLog(path.join(dataDir, 'logs'));
  const db = openDatabase(path.join(dataDir, 'library.sqlite'));
  const library = new LibraryService(db, dataDir, vault);
  const audit = new AuditLog(db);
  const anonymize = new AnonymizeService(db, library, dataDir, {
    ...(opts.device ? { device: opts.device } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
  const exports = new ExportService(db, library, anonymize, audit);
  const jobs = new SqliteJobRunner(
    db,
    {},
    { concurrency: 1, log: opsLog, ...(opts.onJobUpdate ? { onUpdate: opts.onJobUpdate } : {}) },
  );
  if (opts.startJobs) {
    // Rows now; files in the background; jobs after both (never inside this call).
    opsLog.log('info', 'app.start', { pid: process.pid, node: process.version, platform: process.platform });
    const interrupted = jobs.recover();
    const reconciled = library
      .sealLegacyClips()
      .then((sealed) => {
        if (sealed.files || sealed.rows) opsLog.log('info', 'app.sealed-legacy-clips', sealed);
      })
      .then(() => reconcileFiles({ db, audit, dataDir, interrupted }))
      .then(
        (r) => {
          opsLog.log('info', 'app.reconciled', {
            interruptedJobs: interrupted.length,
            tmpFilesRemoved: r.removed.length,
            tmpFilesKept: r.kept.length,
            exportsFinished: r.exportsFinished.length,
            exportsIncomplete: r.exportsIncomplete.length,
          });
        },
        (err: unknown) => opsLog.log('error', 'app.reconcile-failed', { error: err }),
      );
    jobs.start({ after: reconciled });
  }

  let defaultRecord: ModelRecord | null | undefined;
  const core: AppCore = {
    dataDir,
    db,
    vault,
    library,
    anonymize,
    exports,
    audit,
    jobs,
    defaultModel() {
      if (defaultRecord === undefined) {
        const dir = defaultModelDir();
        defaultRecord = fs.existsSync(path.join(dir, 'checkpoint.pt'))
          ? library.registerModel(dir, { name: 'default' })
          : null;
      }
      return defaultRecord;
    },
    resolveModel(ref) {
      if (ref === 'default') {
        const m = core.defaultModel();
        if (!m)
          throw new SpactError(
            'not-found',
            'the default model is not installed (native-models/models/default); pass a trained run folder',
          );
        return m;
      }
      if (typeof ref === 'number' || /^\d+$/.test(ref)) return library.model(Number(ref));
      return library.registerModel(ref);
    },
    opsLog,
    distributed: null,
    async close() {
      await jobs.stop();
      await core.distributed?.close();
      // Free the loaded models now (their native memory is invisible to the garbage collector).
      await anonymize.closeAnonymizers();
      db.close();
      await opsLog.close();
    },
  };
  const distributed = opts.distributed === undefined ? distributedFromEnvironment() : opts.distributed;
  if (distributed) core.distributed = new DistributedJobs(core, distributed);
  if (opts.registerJobs !== false) registerJobKinds(core);
  return core;
}

/** What the job kinds that need more than the core run with (the app's services hold them). */
export interface ServiceJobDeps {
  /** Fine-tune runs ('finetune'). */
  runs: Pick<RunsService, 'execute' | 'useTrainer'>;
  /** Privacy audits ('audit'): where reports are stored, and the app's judges (loaded once). */
  audits: PrivacyAuditStore;
  judges: () => Promise<Judges>;
}

/**
 * Every kind of job, registered in one place, once per process: anonymize and export need only
 * the core (the CLI runs those); finetune and audit need the services' runs and judges, and are
 * registered when they are given (the app, browser mode).
 */
export function registerJobKinds(core: AppCore, services?: ServiceJobDeps): void {
  const { jobs, anonymize, exports } = core;
  jobs.register('anonymize', async (payload, ctx) => {
    const p = payload as AnonymizeJob;
    const out = await anonymize.anonymizeClip(
      p.clipId,
      p.modelId,
      { ...DEFAULT_SETTINGS, ...p.settings },
      {
        signal: ctx.signal,
        onProgress: (f) => ctx.progress(f, `anonymizing clip ${p.clipId}`),
      },
    );
    // What the engine ran with (device, threads, memory budget: the settings when the job started).
    return { outputId: out.id, sha256: out.sha256, engine: out.engine };
  });
  // Distributed mode: anonymize, and fine-tune training, on workers (workers/distributed.ts).
  core.distributed?.registerKinds(services?.runs);
  jobs.register('export', async (payload, ctx) => {
    const p = payload as ExportJob;
    return exports.exportClips({ ...p, signal: ctx.signal, onProgress: (f) => ctx.progress(f, 'exporting') });
  });
  if (!services) return;
  const { runs, audits, judges } = services;
  jobs.register('finetune', (payload, ctx) => runs.execute(payload as { runId: number; resume: boolean }, ctx));
  jobs.register('audit', (payload, ctx) =>
    runAuditJob(
      {
        library: core.library,
        anonymize,
        store: audits,
        log: core.audit,
        judges,
        cacheDir: path.join(core.dataDir, 'audit-cache'),
        engine: () => anonymize.engineSettings(),
      },
      payload as AuditJob,
      ctx,
    ),
  );
}
