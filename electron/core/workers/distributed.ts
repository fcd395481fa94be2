// Distributed jobs on the app's side: the BullMQ dispatcher (jobs/bullmq-queue.ts), the data
// channel (work-channel.ts) and the job kinds that run on workers. The job rows stay the app's
// (list, progress, cancel, wait behave as with the embedded queue).
// - anonymize: the app resolves what needs its library (clip, model, working size: people are
//   measured here), grants the clip's input on the channel, dispatches, and records the output
//   only once the upload's sha256 matches the one the worker announced — renamed into the outputs
//   folder like a local one.
// - finetune: the run (row, metrics, events, the model's registration) stays the app's
//   (training/runs-service.ts); its training runs on a worker, which fetches the base model and
//   the room's clips, reports every step (recorded as a local run's are) and uploads the chosen
//   checkpoint, verified by its sha256 before it is registered.
// Export (files written into the app's own destination) and the privacy audit (its report is
// stored with the output) stay in the app's process.
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import type { TrainProgress } from '../../../native-models/ts/index.js';
import { DEFAULT_SETTINGS, type RecordedSettings } from '../anonymize/anonymize-service.js';
import type { AnonymizeJob, AppCore } from '../app-core.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import { BullmqDispatcher } from '../jobs/bullmq-queue.js';
import type { WorkerInfo } from '../jobs/job-queue.js';
import type { JobContext } from '../jobs/job-runner.js';
import { resolveWorkingSize } from '../media/working-size.js';
import type { FinetuneOptions, FinetuneRecipe, FinetuneResult } from '../training/finetune.js';
import { SELECTION_FILE } from '../training/finetune.js';
import type { RoomSelection } from '../training/room-selection.js';
import type { RunsService } from '../training/runs-service.js';
import { WorkChannel } from './work-channel.js';

/** What a worker receives for an anonymize job (no path of the app, no token). */
export interface RemoteAnonymizeData {
  /** The channel grant that serves the input and takes the output. */
  grant: string;
  model: { sha256: string };
  settings: {
    batch: number;
    keepAudio: boolean;
    size: number | 'auto';
    outputSize: 'working' | 'source';
  };
  personHeightFraction: number | null;
}

/** What a worker returns for an anonymize job. */
export interface RemoteAnonymizeResult {
  sha256: string;
  frames: number;
  videoFps: number;
  durationS: number;
  settings: RecordedSettings;
  engine: { device: string; threads: number };
  worker: string;
}

/** What a worker receives for a fine-tune's training (the room's clips are the grant's inputs). */
export interface RemoteFinetuneData {
  grant: string;
  inputs: number;
  base: { sha256: string };
  recipe: FinetuneRecipe;
  steps: number | null;
  clips: number | null;
  /** room: the working size the app resolved (a number), or 'auto' (the worker measures). */
  size: number | 'auto' | null;
}

/**
 * What a worker reports while it trains (BullMQ progress data), in order: an attempt announces
 * itself, then its steps (a TrainProgress), status lines and warnings carry its id. Parsed, not
 * trusted: it is written into the run's metrics.
 */
export const RemoteFinetuneReport = z.discriminatedUnion('type', [
  z.object({ type: z.literal('attempt'), attempt: z.string() }),
  z.object({
    type: z.literal('progress'),
    attempt: z.string(),
    progress: z
      .object({
        phase: z.string(),
        step: z.number().int().nonnegative(),
        minimaxStep: z.number(),
        minimaxSteps: z.number(),
        stats: z.record(z.string(), z.number().nullable().optional()),
        msPerStep: z
          .number()
          .nullable()
          .transform((v) => v ?? 0), // NaN travels as null in JSON
        etaSeconds: z.number().nullable(),
      })
      .passthrough(),
  }),
  z.object({ type: z.literal('status'), attempt: z.string(), message: z.string() }),
  z.object({ type: z.literal('warning'), attempt: z.string(), message: z.string() }),
]);
export type RemoteFinetuneReport = z.infer<typeof RemoteFinetuneReport>;

/** What a fine-tune's result carries unchanged from the worker to the app: its figures. */
type TrainingFigures = Pick<
  FinetuneResult,
  'steps' | 'minimaxSteps' | 'stopReason' | 'final' | 'config' | 'phaseSeconds' | 'wallSeconds'
>;

/** The figures of a fine-tune's result (both ends: the worker sends them, the app returns them). */
export function trainingFiguresOf(r: TrainingFigures): TrainingFigures {
  const { steps, minimaxSteps, stopReason, final, config, phaseSeconds, wallSeconds } = r;
  return { steps, minimaxSteps, stopReason, final, config, phaseSeconds, wallSeconds };
}

/** What a worker returns for a fine-tune: its result without the worker's paths, and the upload's hash. */
export interface RemoteFinetuneResult extends TrainingFigures {
  checkpoint: { name: string; sha256: string } | null;
  workingSize: number | null;
  /** room: the held-out choice; its footage part names the input by index (`input-<n>`). */
  selection: RoomSelection | null;
  /** Every warning of the attempt (also reported as they came). */
  warnings: string[];
  worker: string;
}

/** A worker's held-out choice with the app's clip in place of its input index; refused when malformed. */
function selectionOnApp(s: RoomSelection, footage: string[]): RoomSelection {
  const index = Number(/^input-(\d+)$/.exec(String(s.part?.file))?.[1] ?? -1);
  const file = footage[index];
  if (file === undefined || !Array.isArray(s.candidates) || typeof s.chosen !== 'string')
    throw new SpactError('internal', `the worker's choice of checkpoint on held-out footage is malformed`);
  return { ...s, part: { ...s.part, file } };
}

export interface DistributedOptions {
  /** redis://HOST:PORT of the queue. */
  redis: string;
  /** The queue's name, shared with the workers (default spact-jobs): one per app on a Redis. */
  queue?: string;
  /** HOST:PORT of the data channel (default 127.0.0.1 and a free port). */
  listen?: string;
  tls?: { cert: string; key: string };
  /** Jobs in flight on workers at once (default 64). */
  inFlight?: number;
  /** Attempts per job on workers, default 3; back-off from backoffMs (default 1000), doubling. */
  attempts?: number;
  backoffMs?: number;
  /** How often a job in flight is looked up in Redis, ms (default 5000; a lost job is queued again). */
  watchMs?: number;
}

/** The distributed mode from the environment (set by `spact serve --redis` for its core host). */
export function distributedFromEnvironment(env: NodeJS.ProcessEnv = process.env): DistributedOptions | null {
  if (!env.SPACT_REDIS_URL) return null;
  return {
    redis: env.SPACT_REDIS_URL,
    ...(env.SPACT_QUEUE ? { queue: env.SPACT_QUEUE } : {}),
    ...(env.SPACT_WORKER_LISTEN ? { listen: env.SPACT_WORKER_LISTEN } : {}),
    ...(env.SPACT_WORKER_TLS_CERT && env.SPACT_WORKER_TLS_KEY
      ? { tls: { cert: env.SPACT_WORKER_TLS_CERT, key: env.SPACT_WORKER_TLS_KEY } }
      : {}),
  };
}

export class DistributedJobs {
  readonly dispatcher: BullmqDispatcher;
  readonly channel: WorkChannel;
  /** Settles once the channel listens and the queue is reconciled with the rows. */
  readonly ready: Promise<void>;

  constructor(
    private readonly core: AppCore,
    private readonly opts: DistributedOptions,
  ) {
    this.dispatcher = new BullmqDispatcher({
      redis: opts.redis,
      log: core.opsLog,
      ...(opts.queue ? { queue: opts.queue } : {}),
      ...(opts.attempts ? { attempts: opts.attempts } : {}),
      ...(opts.backoffMs ? { backoffMs: opts.backoffMs } : {}),
      ...(opts.watchMs ? { watchMs: opts.watchMs } : {}),
    });
    this.channel = new WorkChannel({
      db: core.db,
      dataDir: core.dataDir,
      uploadDir: core.anonymize.outputsDir,
      log: core.opsLog,
      ...(opts.listen ? { listen: opts.listen } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
    this.ready = this.start();
    this.ready.catch((err: unknown) => core.opsLog.log('error', 'workers.start-failed', { error: err }));
  }

  private async start(): Promise<void> {
    const { core } = this;
    const url = await this.channel.start();
    const r = await this.dispatcher.reconcile();
    core.opsLog.log('info', 'workers.ready', { channel: url, redis: redact(this.opts.redis), removed: r.removed });
  }

  /** The data channel's URL, for `spact worker --app`. */
  url(): Promise<string> {
    return this.channel.start();
  }

  /**
   * Replaces the local anonymize kind with the remote one, and has fine-tune runs train on workers
   * (called by registerJobKinds; runs where the app's services exist).
   */
  registerKinds(runs?: Pick<RunsService, 'useTrainer'>): void {
    const { jobs } = this.core;
    jobs.register('anonymize', (payload, ctx) => this.anonymize(payload as AnonymizeJob, ctx));
    jobs.setLane('anonymize', 'workers', this.opts.inFlight ?? 64);
    if (runs) {
      runs.useTrainer({ where: 'worker', run: (opts, job) => this.finetune(opts, job) });
      // Runs train on workers: several at once (their preparation here is light).
      jobs.setLane('finetune', 'worker-training', this.opts.inFlight ?? 64);
    }
  }

  workers(): Promise<WorkerInfo[]> {
    return this.dispatcher.workers();
  }

  drain(id: string): Promise<void> {
    return this.dispatcher.drain(id);
  }

  async close(): Promise<void> {
    // Not waiting for `ready`: against an unreachable Redis it never settles (the dispatcher's
    // close gives up after 2 s instead).
    await Promise.allSettled([this.dispatcher.close(), this.channel.stop()]);
  }

  private async anonymize(
    p: AnonymizeJob,
    ctx: Parameters<Parameters<AppCore['jobs']['register']>[1]>[1],
  ): Promise<{ outputId: number; sha256: string; engine: RemoteAnonymizeResult['engine']; worker: string }> {
    const { library, anonymize } = this.core;
    const clip = library.clip(p.clipId);
    const model = library.model(p.modelId);
    if (!fs.existsSync(clip.path))
      throw new SpactError('not-found', `clip ${p.clipId}: its file ${clip.path} is missing`);
    if (ctx.jobId === undefined) throw new SpactError('internal', 'a distributed job needs its row id');
    const settings = { ...DEFAULT_SETTINGS, ...p.settings };
    const sizes = await anonymize.sizesFor(p.clipId, p.settings ?? {}, {
      signal: ctx.signal,
      onNote: (note) => ctx.progress(0, note),
    });
    // Redis may be unreachable for a while: a cancel must not wait for it.
    await raceAbort(this.ready, ctx.signal);
    const grant = this.channel.grant(clip.path);
    try {
      const data: RemoteAnonymizeData = {
        grant,
        model: { sha256: model.sha256 },
        settings: {
          batch: settings.batch,
          keepAudio: settings.keepAudio,
          size: sizes.size,
          outputSize: sizes.outputSize,
        },
        personHeightFraction: sizes.personHeightFraction,
      };
      const r = (await this.dispatcher.dispatch(
        { id: ctx.jobId, kind: 'anonymize', data },
        ctx,
      )) as RemoteAnonymizeResult;
      const upload = this.channel.takeUpload(grant, r.sha256);
      // From here the upload is ours: removed on any way out that does not record it.
      try {
        // Cancelled while the worker finished: its output must not become the clip's newest.
        if (ctx.signal.aborted) throw new SpactError('cancelled', `anonymizing clip ${clip.id} was cancelled`);
        if (!upload || upload.sha256 !== r.sha256)
          throw new SpactError('internal', `the worker's output for clip ${clip.id} did not arrive intact (sha256)`);
        return this.record(clip, model, sizes, settings, upload, r);
      } finally {
        if (upload) fs.rmSync(upload.file, { force: true });
      }
    } finally {
      this.channel.revoke(grant);
    }
  }

  /**
   * A run's training on a worker: the room's clips granted, every report of the worker handed to
   * the run as finetune()'s callbacks would be, the chosen checkpoint verified and put in the run's
   * folder. A retried attempt (its worker died) restarts the run's curves; resumes stay in the app.
   */
  private async finetune(
    opts: FinetuneOptions,
    job: { ctx: JobContext; baseSha256: string; onRestart: () => void },
  ): Promise<FinetuneResult> {
    const { ctx } = job;
    if (ctx.jobId === undefined) throw new SpactError('internal', 'a distributed job needs its row id');
    for (const f of opts.footage)
      if (!fs.existsSync(f)) throw new SpactError('not-found', `the room's clip ${path.basename(f)} is missing`);
    // A resume continues from the run's folder: RunsService runs it in this process.
    if (opts.resume) throw new SpactError('internal', 'a resumed run trains in the app, not on a worker');
    await raceAbort(this.ready, ctx.signal);
    const grant = this.channel.grant(opts.footage);
    try {
      const data: RemoteFinetuneData = {
        grant,
        inputs: opts.footage.length,
        base: { sha256: job.baseSha256 },
        recipe: opts.recipe ?? 'room',
        steps: opts.steps ?? null,
        clips: opts.clips ?? null,
        size: opts.size ?? null,
      };
      // Each attempt (a retry after a worker died trains from step 0) announces itself first; the
      // run follows the newest one and drops what an older attempt still sends.
      let attempt: string | null = null;
      const onReport = (report: unknown) => {
        const r = RemoteFinetuneReport.safeParse(report);
        if (!r.success) throw new SpactError('internal', `a worker sent a report this app does not read`);
        const rep = r.data;
        if (rep.type === 'attempt') {
          if (attempt !== null) job.onRestart();
          attempt = rep.attempt;
        } else if (rep.attempt !== attempt) return;
        else if (rep.type === 'progress') opts.onProgress?.(rep.progress as TrainProgress);
        else if (rep.type === 'status') opts.onStatus?.(rep.message);
        else opts.onWarning?.(rep.message);
      };
      const r = (await this.dispatcher.dispatch(
        { id: ctx.jobId, kind: 'finetune', data, onReport },
        ctx,
      )) as RemoteFinetuneResult;
      const upload = r.checkpoint ? this.channel.takeUpload(grant, r.checkpoint.sha256) : null;
      try {
        if (ctx.signal.aborted || r.stopReason === 'cancelled')
          throw new SpactError('cancelled', `run training was cancelled`);
        if (!r.checkpoint || !upload)
          throw new SpactError('internal', `the worker's checkpoint did not arrive intact (sha256)`);
        // Warnings whose report was missed (the events connection was down) still reach the run.
        for (const w of r.warnings ?? []) opts.onWarning?.(w);
        if (!/^[\w.-]{1,100}\.pt$/.test(r.checkpoint.name))
          throw new SpactError('internal', `the worker named its checkpoint "${r.checkpoint.name}"`);
        fs.mkdirSync(opts.out, { recursive: true });
        const checkpoint = path.join(opts.out, r.checkpoint.name);
        fs.renameSync(upload.file, checkpoint);
        const selection = r.selection ? selectionOnApp(r.selection, opts.footage) : null;
        if (selection) {
          const tmp = path.join(opts.out, `${SELECTION_FILE}.tmp`);
          fs.writeFileSync(tmp, JSON.stringify(selection, null, 2));
          fs.renameSync(tmp, path.join(opts.out, SELECTION_FILE));
        }
        this.core.opsLog.log('info', 'workers.finetune-done', { worker: r.worker, steps: r.steps, job: ctx.jobId });
        return {
          run: opts.out,
          checkpoint,
          ...trainingFiguresOf(r),
          ...(r.workingSize !== null ? { workingSize: r.workingSize } : {}),
          selection,
        };
      } finally {
        if (upload) fs.rmSync(upload.file, { force: true });
      }
    } finally {
      this.channel.revoke(grant);
    }
  }

  /** Records a verified upload as the clip's output, as a local one is (temporary name until the row exists). */
  private record(
    clip: ReturnType<AppCore['library']['clip']>,
    model: ReturnType<AppCore['library']['model']>,
    sizes: Awaited<ReturnType<AppCore['anonymize']['sizesFor']>>,
    settings: typeof DEFAULT_SETTINGS,
    upload: { file: string; sha256: string },
    r: RemoteAnonymizeResult,
  ): { outputId: number; sha256: string; engine: RemoteAnonymizeResult['engine']; worker: string } {
    const { anonymize, db } = this.core;
    const short = resolveWorkingSize(sizes.size, clip, sizes.personHeightFraction);
    const file = path.join(
      anonymize.outputsDir,
      `clip${clip.id}-${model.sha256.slice(0, 10)}-${short}${sizes.outputSize === 'source' ? '-src' : ''}${settings.keepAudio ? '-audio' : ''}-${Date.now().toString(36)}.mp4`,
    );
    // See AnonymizeService.anonymizeClip: the file gets its name only once its row exists.
    const pending = `${file}.tmp-${process.pid}`;
    fs.renameSync(upload.file, pending);
    try {
      const info = db
        .prepare(
          `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          clip.id,
          model.id,
          file,
          upload.sha256,
          JSON.stringify(r.settings),
          r.frames,
          r.videoFps,
          r.durationS,
          nowIso(),
        );
      fs.renameSync(pending, file);
      return { outputId: Number(info.lastInsertRowid), sha256: upload.sha256, engine: r.engine, worker: r.worker };
    } catch (err) {
      fs.rmSync(pending, { force: true });
      throw err;
    }
  }
}

/** `p`, or a 'cancelled' error as soon as `signal` aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SpactError('cancelled', 'cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new SpactError('cancelled', 'cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A Redis URL without its password (for logs). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'invalid';
  }
}
