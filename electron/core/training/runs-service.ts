// Fine-tuning runs as the app tracks them: a row in `runs` (config, status, progress), per-step
// metrics in `run_metrics`, a run folder under the data folder, and a job that does the work.
// Two recipes (electron/core/training/finetune.ts): 'room' (real cameras, the default: the judges
// label the room's footage at the room's working size and the model is chosen on held-out footage
// by the privacy audit) and 'synthroom' (SynthRoom-style synthetic rooms). A finished run's model
// is registered in the library and can be promoted to a room.
import type { RecordCipher } from '../../../native-models/ts/record-file.js';
import fs from 'node:fs';
import path from 'node:path';

import { RunSelectionView, type EventOf, type FinetuneRecipe, type MetricPoint, type RunView } from '../../contract.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { JobContext, JobQueue } from '../jobs/job-runner.js';
import {
  cachedFrameFiles,
  FOOTAGE_DATA_DIR,
  removeCachedFrames,
  type LibraryService,
  type Room,
} from '../library/library-service.js';
import type { Judges } from '../privacy-audit/judges.js';
import { finetune, ROOM_DEFAULT_STEPS, SELECTION_FILE, type FinetuneOptions, type FinetuneResult } from './finetune.js';
import type { RoomSelection } from './room-selection.js';

export const DEFAULT_RUN_RECIPE: FinetuneRecipe = 'room';
/** Minimax steps when none are given: the room recipe's budget (~15 min on 2 cores), and synthroom's. */
export const DEFAULT_RUN_STEPS: Record<FinetuneRecipe, number> = { room: ROOM_DEFAULT_STEPS, synthroom: 200 };
const DEFAULT_SYNTHROOM_CLIPS = 256;

export interface RunConfig {
  roomId: number;
  baseModelId: number;
  /** Default 'room'. Runs stored before recipes existed have none: they were synthroom runs. */
  recipe?: FinetuneRecipe;
  /** Default per recipe (DEFAULT_RUN_STEPS). */
  steps?: number;
  /** synthroom: clips sampled from the footage. */
  clips?: number;
}

/** What the runs table keeps in its config column: the request, and what the run found out. */
interface StoredRunConfig {
  roomId: number;
  baseModelId: number;
  recipe?: FinetuneRecipe;
  steps: number;
  clips?: number;
  /** room: the working size the footage is labelled and trained at, once known. */
  workingSize?: number;
  warnings?: string[];
}

/** What room runs need from the rest of the app: the judges (loaded once, shared with the audits),
 *  where their findings are cached, and the measurement of a room's people. */
export interface RoomRunDeps {
  judges: () => Promise<Judges>;
  cacheDir: string;
  measureRoom: (roomId: number, opts: { signal?: AbortSignal }) => Promise<Room>;
  /** Device and threads from the settings, read when a run starts or resumes (both recipes). */
  engine?: () => { device: string; threads: number };
  /** Seals cached raw frames with the data folder's key. */
  cipher?: RecordCipher;
}

interface RunRow {
  id: number;
  kind: 'train' | 'finetune';
  room_id: number | null;
  config: string;
  status: RunView['status'];
  progress: number;
  run_dir: string;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

/**
 * Where a run's training computes: in this process (finetune(), the default) or on a worker
 * (workers/distributed.ts). A remote trainer loads its own judges and engine; it needs the job's
 * context (its row id, progress) and the base model's hash (workers fetch models by hash).
 */
export interface FinetuneTrainer {
  where: 'local' | 'worker';
  /** onRestart: training starts again from step 0 (a worker died and another took the run). */
  run(
    opts: FinetuneOptions,
    job: { ctx: JobContext; baseSha256: string; onRestart: () => void },
  ): Promise<FinetuneResult>;
}
const LOCAL_TRAINER: FinetuneTrainer = { where: 'local', run: (opts) => finetune(opts) };

/** The run.progress event (the contract's schema, not a copy). */
export type RunProgressEvent = EventOf<'run.progress'>;

const recipeOf = (cfg: StoredRunConfig): FinetuneRecipe => cfg.recipe ?? 'synthroom';

export class RunsService {
  private trainer: FinetuneTrainer = LOCAL_TRAINER;

  constructor(
    private readonly db: Db,
    private readonly library: LibraryService,
    private readonly dataDir: string,
    private readonly jobs: () => JobQueue,
    private readonly emit: (e: RunProgressEvent) => void,
    /** Without it, room runs load the judges themselves and measure 'auto' rooms on their own. */
    private readonly roomDeps?: RoomRunDeps,
  ) {}

  /** Runs train on workers from now on (distributed mode), or in this process again. */
  useTrainer(trainer: FinetuneTrainer | null): void {
    this.trainer = trainer ?? LOCAL_TRAINER;
  }

  list(): RunView[] {
    return (this.db.prepare(`SELECT * FROM runs ORDER BY id DESC`).all() as RunRow[]).map((r) => this.view(r));
  }

  get(id: number): RunView {
    return this.view(this.row(id));
  }

  private row(id: number): RunRow {
    const r = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    if (!r) throw new SpactError('not-found', `run ${id} does not exist`);
    return r;
  }

  private config(r: RunRow): StoredRunConfig {
    return JSON.parse(r.config) as StoredRunConfig;
  }

  /** Records what a run found out (its working size, its warnings) beside its config. */
  private note(id: number, change: Pick<StoredRunConfig, 'workingSize' | 'warnings'>): void {
    const cfg = { ...this.config(this.row(id)), ...change };
    this.db.prepare(`UPDATE runs SET config = ? WHERE id = ?`).run(JSON.stringify(cfg), id);
  }

  /** RUN_DIR/selection.json as the renderer may see it: clips by name, checkpoints by file name. */
  private selection(r: RunRow): RunView['selection'] {
    const file = r.run_dir ? path.join(r.run_dir, SELECTION_FILE) : '';
    if (!file || !fs.existsSync(file)) return null;
    let s: RoomSelection;
    try {
      s = JSON.parse(fs.readFileSync(file, 'utf8')) as RoomSelection;
    } catch {
      return null; // unreadable: as if none
    }
    const clip =
      r.room_id === null
        ? undefined
        : this.library.clips({ roomId: r.room_id }).find((c) => path.resolve(c.path) === path.resolve(s.part.file));
    const view = RunSelectionView.safeParse({
      part: {
        clipId: clip?.id ?? null,
        name: clip?.name ?? path.basename(s.part.file),
        startS: s.part.startS ?? 0,
        endS: s.part.endS ?? clip?.durationS ?? 0,
      },
      workingSize: s.workingSize,
      rule: s.rule,
      base: s.base,
      candidates: s.candidates.map((c) => ({
        name: path.basename(c.checkpoint),
        minimaxStep: c.minimaxStep,
        chosen: path.resolve(c.checkpoint) === path.resolve(s.chosen),
        audit: c.audit,
      })),
      warnings: s.warnings,
    });
    return view.success ? view.data : null;
  }

  private view(r: RunRow): RunView {
    const cfg = this.config(r);
    const model = this.db.prepare(`SELECT id FROM models WHERE run_id = ?`).get(r.id) as { id: number } | undefined;
    const last = this.db
      .prepare(
        `SELECT step, phase, loss_t, loss_b, l1, acc_t FROM run_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1`,
      )
      .get(r.id) as
      | {
          step: number;
          phase: string;
          loss_t: number | null;
          loss_b: number | null;
          l1: number | null;
          acc_t: number | null;
        }
      | undefined;
    const final = last
      ? Object.fromEntries(
          Object.entries({ loss_T: last.loss_t, loss_B: last.loss_b, l1: last.l1, acc_T: last.acc_t }).filter(
            ([, v]) => v !== null,
          ),
        )
      : null;
    const selection = this.selection(r);
    return {
      id: r.id,
      kind: r.kind,
      roomId: r.room_id,
      recipe: recipeOf(cfg),
      status: r.status,
      progress: r.progress,
      steps: cfg.steps,
      workingSize: selection?.workingSize ?? cfg.workingSize ?? null,
      error: r.error,
      modelId: model?.id ?? null,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      final: final as Record<string, number> | null,
      lastStep: last ? { step: last.step, phase: last.phase } : null,
      selection,
      warnings: [...new Set([...(cfg.warnings ?? []), ...(selection?.warnings ?? [])])],
    };
  }

  start(cfg: RunConfig): RunView {
    const room = this.library.room(cfg.roomId);
    if (room.clips === 0) throw new SpactError('validation', `room "${room.name}" has no clips to fine-tune on`);
    this.library.model(cfg.baseModelId);
    const recipe = cfg.recipe ?? DEFAULT_RUN_RECIPE;
    if (recipe === 'room' && cfg.clips !== undefined)
      throw new SpactError('validation', 'clips belongs to the synthroom recipe');
    const stored: StoredRunConfig = {
      roomId: cfg.roomId,
      baseModelId: cfg.baseModelId,
      recipe,
      steps: cfg.steps ?? DEFAULT_RUN_STEPS[recipe],
      ...(recipe === 'synthroom' ? { clips: cfg.clips ?? DEFAULT_SYNTHROOM_CLIPS } : {}),
    };
    const info = this.db
      .prepare(
        `INSERT INTO runs (kind, room_id, config, status, run_dir, created_at) VALUES ('finetune', ?, ?, 'queued', '', ?)`,
      )
      .run(cfg.roomId, JSON.stringify(stored), nowIso());
    const id = Number(info.lastInsertRowid);
    const dir = path.join(this.dataDir, 'runs', `run-${id}`);
    this.db.prepare(`UPDATE runs SET run_dir = ? WHERE id = ?`).run(dir, id);
    this.jobs().enqueue('finetune', { runId: id, resume: false }, { maxAttempts: 1 });
    return this.get(id);
  }

  /** Continues a cancelled or failed run where its checkpoint left off, with the same recipe. */
  resume(id: number): RunView {
    const r = this.row(id);
    if (r.status !== 'cancelled' && r.status !== 'failed')
      throw new SpactError('conflict', `run ${id} is ${r.status}; only cancelled or failed runs resume`);
    if (!fs.existsSync(path.join(r.run_dir, 'checkpoint.pt')))
      throw new SpactError('conflict', `run ${id} has no checkpoint yet; start a new run`);
    if (fs.existsSync(path.join(r.run_dir, FOOTAGE_DATA_DIR)) && cachedFrameFiles(r.run_dir).length === 0)
      throw new SpactError(
        'conflict',
        `run ${id} can no longer be resumed: its cached frames were deleted with its room's footage; start a new run`,
      );
    this.db.prepare(`UPDATE runs SET status = 'queued', error = NULL WHERE id = ?`).run(id);
    this.jobs().enqueue('finetune', { runId: id, resume: true }, { maxAttempts: 1 });
    return this.get(id);
  }

  /**
   * Start-up: a run left queued or running by a process that stopped (no queued or running job
   * carries it any more) is failed with its reason, so it can be resumed from its last checkpoint
   * (runs.resume) or left as failed. Returns the ids it failed.
   */
  reconcile(): number[] {
    const stuck = this.db.prepare(`SELECT * FROM runs WHERE status IN ('queued', 'running')`).all() as RunRow[];
    const failed: number[] = [];
    for (const r of stuck) {
      const job = this.jobs()
        .list({ limit: 1000 })
        .find(
          (j) =>
            j.kind === 'finetune' &&
            (j.payload as { runId: number }).runId === r.id &&
            (j.status === 'running' || j.status === 'queued'),
        );
      if (job) continue;
      const resumable = fs.existsSync(path.join(r.run_dir, 'checkpoint.pt'));
      const error = `interrupted: the app stopped during this run; ${
        resumable ? 'resume it to continue from its last checkpoint' : 'it has no checkpoint yet, start a new run'
      }`;
      this.db
        .prepare(`UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = ?`)
        .run(error, nowIso(), r.id, r.status);
      failed.push(r.id);
    }
    // Runs that ended (or lost their room) while an older version kept their frames drop them now.
    for (const { id } of this.db.prepare(`SELECT id FROM runs WHERE status NOT IN ('queued', 'running')`).all() as {
      id: number;
    }[])
      this.releaseFrames(id);
    return failed;
  }

  /**
   * A run keeps its cached raw frames (footage-data) only while it can be resumed: a failed or
   * cancelled run with a checkpoint whose room still exists. A finished run, one without a
   * checkpoint, and one whose room was deleted drop them (their JSON manifests stay).
   */
  releaseFrames(id: number): void {
    const r = this.row(id);
    if (!r.run_dir || r.status === 'queued' || r.status === 'running') return;
    const resumable =
      (r.status === 'failed' || r.status === 'cancelled') &&
      r.room_id !== null &&
      fs.existsSync(path.join(r.run_dir, 'checkpoint.pt'));
    if (!resumable) removeCachedFrames(r.run_dir);
  }

  cancel(id: number): RunView {
    this.row(id);
    const job = this.jobs()
      .list()
      .find(
        (j) =>
          j.kind === 'finetune' &&
          (j.payload as { runId: number }).runId === id &&
          (j.status === 'running' || j.status === 'queued'),
      );
    if (!job) throw new SpactError('conflict', `run ${id} is not running`);
    const after = this.jobs().cancel(job.id);
    // A queued job never ran: its run ends here (a running one ends when its job stops).
    if (after.status === 'cancelled')
      this.db
        .prepare(`UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'`)
        .run(nowIso(), id);
    return this.get(id);
  }

  metrics(id: number): MetricPoint[] {
    this.row(id);
    return (
      this.db
        .prepare(`SELECT step, phase, loss_t, loss_b, l1 FROM run_metrics WHERE run_id = ? ORDER BY step`)
        .all(id) as {
        step: number;
        phase: string;
        loss_t: number | null;
        loss_b: number | null;
        l1: number | null;
      }[]
    ).map((m) => ({ step: m.step, phase: m.phase, loss_T: m.loss_t, loss_B: m.loss_b, l1: m.l1 }));
  }

  /** The job body: runs (or resumes) the fine-tune and keeps the run row and metrics current. */
  async execute(payload: { runId: number; resume: boolean }, ctx: JobContext): Promise<unknown> {
    const r = this.row(payload.runId);
    const cfg = this.config(r);
    const recipe = recipeOf(cfg);
    // A resume continues from the checkpoint in the run's folder, which is here: it trains here.
    const trainer = payload.resume ? LOCAL_TRAINER : this.trainer;
    const setStatus = (status: RunView['status'], extra: { error?: string | null; finished?: boolean } = {}) => {
      this.db
        .prepare(
          `UPDATE runs SET status = ?, error = ?, started_at = COALESCE(started_at, ?), finished_at = ? WHERE id = ?`,
        )
        .run(status, extra.error ?? null, nowIso(), extra.finished ? nowIso() : null, r.id);
    };
    setStatus('running');
    const insertMetric = this.db.prepare(
      `INSERT OR REPLACE INTO run_metrics (run_id, step, phase, loss_t, loss_b, l1, acc_t, ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The last training step seen: status messages between steps carry it, with their own phase.
    let last: Omit<RunProgressEvent, 'runId' | 'status' | 'message'> = {
      phase: payload.resume ? 'resuming' : recipe === 'room' ? 'labelling' : 'sampling',
      step: 0,
      minimaxStep: 0,
      minimaxSteps: cfg.steps,
      stats: {},
      etaSeconds: null,
    };
    let fraction = r.progress;
    /** A status message: the job's message and a run event ("labelling the footage…"). */
    const say = (message: string, phase?: string) => {
      // Training is followed by choosing the model on held-out footage (room runs).
      const p = phase ?? (/held-out/.test(message) ? 'selecting' : last.phase);
      ctx.progress(fraction, message);
      this.emit({ runId: r.id, status: 'running', ...last, phase: p, message });
    };
    const warnings = [...(cfg.warnings ?? [])];
    const warn = (m: string) => {
      if (!warnings.includes(m)) warnings.push(m);
      this.note(r.id, { warnings });
      say(`warning: ${m}`);
    };
    try {
      const base = this.library.model(cfg.baseModelId);
      const footage = this.library.clips({ roomId: cfg.roomId }).map((c) => c.path);
      const room: Pick<FinetuneOptions, 'size' | 'judges' | 'cacheDir'> = {};
      if (recipe === 'room') {
        if (!payload.resume) {
          const size = await this.roomWorkingSize(cfg.roomId, ctx.signal, (m) => say(m, 'measuring'));
          if (typeof size === 'number') this.note(r.id, { workingSize: size });
          room.size = size;
        }
        // A worker loads its own judges and caches what they find in its job's folder.
        if (this.roomDeps && trainer.where === 'local') {
          say('loading the person and pose judges…');
          room.judges = await this.roomDeps.judges();
          room.cacheDir = this.roomDeps.cacheDir;
        }
      }
      const result = await trainer.run(
        {
          footage,
          base: base.checkpoint,
          out: r.run_dir,
          recipe,
          steps: cfg.steps,
          ...(recipe === 'synthroom' ? { clips: cfg.clips ?? DEFAULT_SYNTHROOM_CLIPS } : {}),
          ...room,
          ...(this.roomDeps?.engine ? { engine: this.roomDeps.engine() } : {}),
          ...(this.roomDeps?.cipher ? { cipher: this.roomDeps.cipher } : {}),
          resume: payload.resume,
          signal: ctx.signal,
          onStatus: (m) => say(m),
          onWarning: warn,
          onProgress: (p) => {
            fraction = p.phase === 'minimax' ? p.minimaxStep / Math.max(1, p.minimaxSteps) : 0;
            this.db.prepare(`UPDATE runs SET progress = ? WHERE id = ?`).run(fraction, r.id);
            insertMetric.run(
              r.id,
              p.step,
              p.phase,
              p.stats.loss_T ?? null,
              p.stats.loss_B ?? null,
              p.stats.l1 ?? null,
              p.stats.acc_T ?? null,
              p.msPerStep,
            );
            ctx.progress(fraction, `${p.phase} step ${p.step}${trainer.where === 'worker' ? ' (on a worker)' : ''}`);
            last = {
              phase: p.phase,
              step: p.step,
              minimaxStep: p.minimaxStep,
              minimaxSteps: p.minimaxSteps,
              stats: Object.fromEntries(
                Object.entries(p.stats).filter((e): e is [string, number] => typeof e[1] === 'number'),
              ),
              etaSeconds: p.etaSeconds,
            };
            this.emit({ runId: r.id, status: 'running', ...last });
          },
        },
        {
          ctx,
          baseSha256: base.sha256,
          onRestart: () => {
            // The curves of the attempt that died go: the run's history is the attempt that finishes.
            this.db.prepare(`DELETE FROM run_metrics WHERE run_id = ?`).run(r.id);
            fraction = 0;
            say('a worker stopped; training starts again on another worker');
          },
        },
      );
      if (result.workingSize !== undefined) this.note(r.id, { workingSize: result.workingSize });
      if (result.stopReason === 'cancelled') {
        // finished_at too: the run's card shows how long it ran.
        setStatus('cancelled', { finished: true });
        this.releaseFrames(r.id);
        this.emitStatus(r.id, 'cancelled', last);
        return { cancelled: true };
      }
      // Room runs: the checkpoint chosen on held-out footage (selected.pt), else the last one.
      this.library.registerModel(result.checkpoint, {
        name: `room ${cfg.roomId} run ${r.id}`,
        runId: r.id,
        parentId: base.id,
      });
      this.db.prepare(`UPDATE runs SET progress = 1 WHERE id = ?`).run(r.id);
      setStatus('done', { finished: true });
      this.releaseFrames(r.id);
      this.emitStatus(r.id, 'done', last);
      return { checkpoint: result.checkpoint, steps: result.steps, workingSize: result.workingSize ?? null };
    } catch (err) {
      const cancelled = err instanceof SpactError && err.kind === 'cancelled';
      setStatus(cancelled ? 'cancelled' : 'failed', {
        error: cancelled ? null : (err as Error).message,
        finished: true,
      });
      this.releaseFrames(r.id);
      this.emitStatus(r.id, cancelled ? 'cancelled' : 'failed', last);
      throw err;
    }
  }

  /**
   * The working size a room run labels and trains at: the room's number, or what its 'auto'
   * resolves to from the people measured in its clips (measured first when it never was).
   * 'auto' is left to the fine-tune (it measures the footage itself) when no measurement can be had.
   */
  private async roomWorkingSize(
    roomId: number,
    signal: AbortSignal,
    say: (m: string) => void,
  ): Promise<number | 'auto'> {
    let room = this.library.room(roomId);
    if (room.workingSize !== 'auto') return room.workingSize;
    if (!room.personHeight && this.roomDeps) {
      say(`measuring how tall people are in room "${room.name}"…`);
      room = await this.roomDeps.measureRoom(roomId, { signal });
    }
    return room.personHeight ? (room.resolvedWorkingSize?.max ?? 'auto') : 'auto';
  }

  /** The run's end as an event: where training stopped (a finished run: its whole budget). */
  private emitStatus(
    runId: number,
    status: RunView['status'],
    at: { step: number; minimaxStep: number; minimaxSteps: number } | null = null,
  ): void {
    const steps = at?.minimaxSteps ?? this.get(runId).steps;
    this.emit({
      runId,
      status,
      phase: status,
      step: at?.step ?? 0,
      minimaxStep: status === 'done' ? steps : (at?.minimaxStep ?? 0),
      minimaxSteps: steps,
      stats: {},
      etaSeconds: null,
    });
  }

  /** Makes a finished run's model the room's active model. */
  promote(runId: number, roomId: number) {
    const v = this.get(runId);
    if (v.status !== 'done' || v.modelId === null)
      throw new SpactError('conflict', `run ${runId} has no finished model to promote`);
    return this.library.setActiveModel(roomId, v.modelId);
  }
}
