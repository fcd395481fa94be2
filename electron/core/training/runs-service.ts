// Fine-tuning runs as the app tracks them: a row in `runs` (config, status, progress), per-step
// metrics in `run_metrics`, a run folder under the data folder, and a job that does the work.
// A finished run's model is registered in the library and can be promoted to a room.
import fs from 'node:fs';
import path from 'node:path';

import type { MetricPoint, RunView } from '../../contract.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { JobContext, JobQueue } from '../jobs/job-runner.js';
import type { LibraryService } from '../library/library-service.js';
import { finetune } from './finetune.js';

export interface RunConfig {
  roomId: number;
  baseModelId: number;
  steps: number;
  clips: number;
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
  finished_at: string | null;
}

export interface RunProgressEvent {
  runId: number;
  status: RunView['status'];
  phase: string;
  step: number;
  minimaxStep: number;
  minimaxSteps: number;
  stats: Record<string, number>;
  etaSeconds: number | null;
}

export class RunsService {
  constructor(
    private readonly db: Db,
    private readonly library: LibraryService,
    private readonly dataDir: string,
    private readonly jobs: () => JobQueue,
    private readonly emit: (e: RunProgressEvent) => void,
  ) {}

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

  private view(r: RunRow): RunView {
    const cfg = JSON.parse(r.config) as RunConfig;
    const model = this.db.prepare(`SELECT id FROM models WHERE run_id = ?`).get(r.id) as { id: number } | undefined;
    const last = this.db
      .prepare(`SELECT loss_t, loss_b, l1, acc_t FROM run_metrics WHERE run_id = ? ORDER BY step DESC LIMIT 1`)
      .get(r.id) as
      { loss_t: number | null; loss_b: number | null; l1: number | null; acc_t: number | null } | undefined;
    const final = last
      ? Object.fromEntries(
          Object.entries({ loss_T: last.loss_t, loss_B: last.loss_b, l1: last.l1, acc_T: last.acc_t }).filter(
            ([, v]) => v !== null,
          ),
        )
      : null;
    return {
      id: r.id,
      kind: r.kind,
      roomId: r.room_id,
      status: r.status,
      progress: r.progress,
      steps: cfg.steps,
      error: r.error,
      modelId: model?.id ?? null,
      createdAt: r.created_at,
      finishedAt: r.finished_at,
      final: final as Record<string, number> | null,
    };
  }

  start(cfg: RunConfig): RunView {
    const room = this.library.room(cfg.roomId);
    if (room.clips === 0) throw new SpactError('validation', `room "${room.name}" has no clips to fine-tune on`);
    this.library.model(cfg.baseModelId);
    const info = this.db
      .prepare(
        `INSERT INTO runs (kind, room_id, config, status, run_dir, created_at) VALUES ('finetune', ?, ?, 'queued', '', ?)`,
      )
      .run(cfg.roomId, JSON.stringify(cfg), nowIso());
    const id = Number(info.lastInsertRowid);
    const dir = path.join(this.dataDir, 'runs', `run-${id}`);
    this.db.prepare(`UPDATE runs SET run_dir = ? WHERE id = ?`).run(dir, id);
    this.jobs().enqueue('finetune', { runId: id, resume: false }, { maxAttempts: 1 });
    return this.get(id);
  }

  resume(id: number): RunView {
    const r = this.row(id);
    if (r.status !== 'cancelled' && r.status !== 'failed')
      throw new SpactError('conflict', `run ${id} is ${r.status}; only cancelled or failed runs resume`);
    if (!fs.existsSync(path.join(r.run_dir, 'checkpoint.pt')))
      throw new SpactError('conflict', `run ${id} has no checkpoint yet; start a new run`);
    this.db.prepare(`UPDATE runs SET status = 'queued', error = NULL WHERE id = ?`).run(id);
    this.jobs().enqueue('finetune', { runId: id, resume: true }, { maxAttempts: 1 });
    return this.get(id);
  }

  cancel(id: number): RunView {
    const r = this.row(id);
    const job = this.jobs()
      .list()
      .find(
        (j) =>
          j.kind === 'finetune' &&
          (j.payload as { runId: number }).runId === id &&
          (j.status === 'running' || j.status === 'queued'),
      );
    if (!job) throw new SpactError('conflict', `run ${id} is not running`);
    this.jobs().cancel(job.id);
    void r;
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
    const cfg = JSON.parse(r.config) as RunConfig;
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
    try {
      const base = this.library.model(cfg.baseModelId);
      const footage = this.library.clips({ roomId: cfg.roomId }).map((c) => c.path);
      const result = await finetune({
        footage,
        base: base.checkpoint,
        out: r.run_dir,
        steps: cfg.steps,
        clips: cfg.clips,
        resume: payload.resume,
        signal: ctx.signal,
        onStatus: (m) => ctx.progress(0, m),
        onProgress: (p) => {
          const fraction = p.phase === 'minimax' ? p.minimaxStep / Math.max(1, p.minimaxSteps) : 0;
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
          ctx.progress(fraction, `${p.phase} step ${p.step}`);
          this.emit({
            runId: r.id,
            status: 'running',
            phase: p.phase,
            step: p.step,
            minimaxStep: p.minimaxStep,
            minimaxSteps: p.minimaxSteps,
            stats: Object.fromEntries(
              Object.entries(p.stats).filter((e): e is [string, number] => typeof e[1] === 'number'),
            ),
            etaSeconds: p.etaSeconds,
          });
        },
      });
      if (result.stopReason === 'cancelled') {
        setStatus('cancelled');
        this.emitStatus(r.id, 'cancelled');
        return { cancelled: true };
      }
      this.library.registerModel(result.checkpoint, {
        name: `room ${cfg.roomId} run ${r.id}`,
        runId: r.id,
        parentId: base.id,
      });
      this.db.prepare(`UPDATE runs SET progress = 1 WHERE id = ?`).run(r.id);
      setStatus('done', { finished: true });
      this.emitStatus(r.id, 'done');
      return { checkpoint: result.checkpoint, steps: result.steps };
    } catch (err) {
      setStatus('failed', { error: (err as Error).message, finished: true });
      this.emitStatus(r.id, 'failed');
      throw err;
    }
  }

  private emitStatus(runId: number, status: RunView['status']): void {
    const v = this.get(runId);
    this.emit({
      runId,
      status,
      phase: status,
      step: 0,
      minimaxStep: 0,
      minimaxSteps: v.steps,
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
