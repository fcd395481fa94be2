// Jobs: long work (anonymize, export, training) as persisted, cancellable, retried units. The
// JobQueue interface is what a distributed queue could implement later; the embedded runner keeps
// jobs in SQLite, runs them in-process (their heavy parts already run off the event loop: ffmpeg
// processes and the native compute thread) and, on start, requeues or fails what a previous
// process left running. Start-up never runs a job itself: recovery only rewrites rows, and the
// first job starts on a later turn of the event loop (after a delay the host chooses), so the app
// answers before any job runs. A job interrupted twice is failed for good, never requeued again.
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError, toApiError } from '../errors.js';
import { silentOpsLog, type OpsLogger } from '../ops-log.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  id: number;
  kind: string;
  payload: unknown;
  status: JobStatus;
  progress: number;
  message: string | null;
  result: unknown;
  error: string | null;
  attempts: number;
  maxAttempts: number;
  /** Times the app stopped while this job ran (counted at start-up). */
  interruptions: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface JobContext {
  signal: AbortSignal;
  /** The job's id (set by the runner): a distributed queue names its copy of the job by it. */
  jobId?: number;
  progress(fraction: number, message?: string): void;
}

export type JobHandler = (payload: unknown, ctx: JobContext) => Promise<unknown>;

export interface JobQueue {
  enqueue(kind: string, payload: unknown, opts?: { maxAttempts?: number }): JobRecord;
  cancel(id: number): JobRecord;
  get(id: number): JobRecord;
  list(opts?: { status?: JobStatus; limit?: number }): JobRecord[];
  /** Resolves when the job reaches done/failed/cancelled. */
  wait(id: number): Promise<JobRecord>;
}

interface Row {
  id: number;
  kind: string;
  payload: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  result: string | null;
  error: string | null;
  attempts: number;
  max_attempts: number;
  interruptions: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toRecord(r: Row): JobRecord {
  return {
    id: r.id,
    kind: r.kind,
    payload: JSON.parse(r.payload),
    status: r.status,
    progress: r.progress,
    message: r.message,
    result: r.result === null ? null : JSON.parse(r.result),
    error: r.error,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    interruptions: r.interruptions,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Why a job interrupted twice is failed (the app stopped twice while it ran). */
export const INTERRUPTED_TWICE = 'interrupted twice; not retried';
/** Why a job interrupted on its last attempt is failed. */
export const INTERRUPTED = 'interrupted: the app stopped while this job ran';

/** Marks an error as final: the job is failed without a retry here (a distributed queue has
 *  already retried it on its workers). */
export function finalJobError(err: SpactError): SpactError {
  return Object.assign(err, { finalAttempt: true });
}

/** Errors worth retrying: not bad input, not cancellation, not a missing thing. */
function retryable(err: unknown): boolean {
  if ((err as { finalAttempt?: boolean } | null)?.finalAttempt) return false;
  const kind = toApiError(err).kind;
  return kind === 'internal' || kind === 'unavailable';
}

/**
 * Jobs run in lanes, `concurrency` at a time per lane (default one): an export (files) or a
 * fine-tune (minutes to hours) never waits behind the other kinds, while anonymize and audit
 * (the other kinds) share one lane so two of them never compete for memory.
 */
export const DEFAULT_JOB_LANES: Readonly<Record<string, string>> = { finetune: 'training', export: 'files' };
const laneOf = (kind: string, lanes: Readonly<Record<string, string>>) => lanes[kind] ?? 'compute';

export class SqliteJobRunner implements JobQueue {
  private readonly runningPerLane = new Map<string, number>();
  private readonly controllers = new Map<number, AbortController>();
  private readonly waiters = new Map<number, ((r: JobRecord) => void)[]>();
  private lastProgressWrite = new Map<number, number>();
  private stopped = false;
  private recovered: JobRecord[] | null = null;
  /** True while start() waits out its delay; bumped generations cancel a pending start. */
  private holding = false;
  private startGeneration = 0;

  constructor(
    private readonly db: Db,
    private readonly handlers: Record<string, JobHandler>,
    private readonly opts: {
      concurrency?: number;
      lanes?: Readonly<Record<string, string>>;
      /** Concurrency of named lanes over `concurrency` (e.g. jobs that wait on remote workers). */
      laneLimits?: Readonly<Record<string, number>>;
      onUpdate?: (job: JobRecord) => void;
      log?: OpsLogger;
    } = {},
  ) {
    this.log = opts.log ?? silentOpsLog;
  }

  /** The operational log (ops-log.ts): one line per change of a job's state. */
  private readonly log: OpsLogger;

  /**
   * Moves a kind into its own lane with its own concurrency: a kind whose body runs on remote
   * workers only waits here, so many of its jobs can be in flight at once.
   */
  setLane(kind: string, lane: string, limit: number): void {
    this.opts.lanes = { ...(this.opts.lanes ?? DEFAULT_JOB_LANES), [kind]: lane };
    this.opts.laneLimits = { ...this.opts.laneLimits, [lane]: limit };
    // No pump here: a runner not started yet must not run anything (see start).
  }

  /** Adds a job kind (services that depend on the runner register theirs after creating it). */
  register(kind: string, handler: JobHandler): void {
    this.handlers[kind] = handler;
  }

  /**
   * Recovers the jobs a previous process left running (once per runner): each counts one more
   * interruption; interrupted twice, or on its last attempt, it is failed with its reason,
   * otherwise requeued. Only rows change here (no job runs). Returns the jobs it recovered, in
   * their new state, for the reconciliation of what they had written (jobs/reconcile.ts).
   */
  recover(): JobRecord[] {
    if (this.recovered) return this.recovered;
    const stale = this.db.prepare(`SELECT * FROM jobs WHERE status = 'running'`).all() as Row[];
    const requeue = this.db.prepare(
      `UPDATE jobs SET status = 'queued', interruptions = interruptions + 1, message = 'requeued after an interrupted run' WHERE id = ?`,
    );
    const fail = this.db.prepare(
      `UPDATE jobs SET status = 'failed', interruptions = interruptions + 1, error = ?, finished_at = ? WHERE id = ?`,
    );
    this.db.transaction(() => {
      for (const r of stale) {
        if (r.interruptions + 1 >= 2) fail.run(INTERRUPTED_TWICE, nowIso(), r.id);
        else if (r.attempts < r.max_attempts) requeue.run(r.id);
        else fail.run(INTERRUPTED, nowIso(), r.id);
      }
    })();
    this.recovered = stale.map((r) => this.get(r.id));
    for (const j of this.recovered) {
      this.log.log(j.status === 'failed' ? 'error' : 'warn', 'job.interrupted', {
        job: j.id,
        kind: j.kind,
        interruptions: j.interruptions,
        now: j.status,
        ...(j.error ? { reason: j.error } : {}),
      });
    }
    return this.recovered;
  }

  /**
   * Recovers (see recover) and starts processing — never before this call has returned: the first
   * job starts after `delayMs` (default: the next turn of the event loop) and after `after` (e.g.
   * the reconciliation of files) has settled, so a host that starts its server right after can
   * answer before any job (a requeued one included) takes the thread.
   */
  start(opts: { delayMs?: number; after?: Promise<unknown> } = {}): void {
    this.recover();
    this.stopped = false;
    const generation = ++this.startGeneration;
    this.holding = true;
    const delay = new Promise((resolve) => setTimeout(resolve, opts.delayMs ?? 0));
    void Promise.allSettled([delay, opts.after]).then(() => {
      if (generation !== this.startGeneration) return; // stopped (or started again) meanwhile
      this.holding = false;
      this.pump();
    });
  }

  /** The queued or running job of this kind whose payload matches, if any (one job per thing). */
  active(kind: string, match: (payload: unknown) => boolean): JobRecord | null {
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE kind = ? AND status IN ('queued', 'running') ORDER BY id`)
      .all(kind) as Row[];
    return rows.map(toRecord).find((j) => match(j.payload)) ?? null;
  }

  /** Stops taking new jobs and cancels running ones (they are marked cancelled). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.startGeneration++;
    this.holding = false;
    const ids = [...this.controllers.keys()];
    for (const c of this.controllers.values()) c.abort();
    await Promise.all(ids.map((id) => this.wait(id)));
  }

  /**
   * Runs `body` in this process as a job of `kind` that no runner picks up: its row is written
   * running (one attempt) before `body` starts and done or failed after it. A process killed
   * meanwhile leaves the row running, so the next start-up reconciles what it wrote, as for a job
   * of the app (the CLI's exports write folders outside the data folder).
   */
  async runHere<T>(kind: string, payload: unknown, body: () => Promise<T>): Promise<T> {
    const now = nowIso();
    const info = this.db
      .prepare(
        `INSERT INTO jobs (kind, payload, status, attempts, max_attempts, created_at, started_at) VALUES (?, ?, 'running', 1, 1, ?, ?)`,
      )
      .run(kind, JSON.stringify(payload), now, now);
    const id = Number(info.lastInsertRowid);
    try {
      const result = await body();
      this.db
        .prepare(`UPDATE jobs SET status = 'done', progress = 1, result = ?, finished_at = ? WHERE id = ?`)
        .run(JSON.stringify(result ?? null), nowIso(), id);
      return result;
    } catch (err) {
      const e = toApiError(err);
      this.db
        .prepare(`UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?`)
        .run(`${e.kind}: ${e.message}`, nowIso(), id);
      throw err;
    }
  }

  enqueue(kind: string, payload: unknown, opts: { maxAttempts?: number } = {}): JobRecord {
    if (!this.handlers[kind]) throw new SpactError('validation', `unknown job kind "${kind}"`);
    const info = this.db
      .prepare(`INSERT INTO jobs (kind, payload, status, max_attempts, created_at) VALUES (?, ?, 'queued', ?, ?)`)
      .run(kind, JSON.stringify(payload), opts.maxAttempts ?? 2, nowIso());
    const job = this.get(Number(info.lastInsertRowid));
    this.log.log('info', 'job.queued', { job: job.id, kind });
    this.opts.onUpdate?.(job);
    queueMicrotask(() => this.pump());
    return job;
  }

  get(id: number): JobRecord {
    const r = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as Row | undefined;
    if (!r) throw new SpactError('not-found', `job ${id} does not exist`);
    return toRecord(r);
  }

  list(opts: { status?: JobStatus; limit?: number } = {}): JobRecord[] {
    const rows = opts.status
      ? (this.db
          .prepare(`SELECT * FROM jobs WHERE status = ? ORDER BY id DESC LIMIT ?`)
          .all(opts.status, opts.limit ?? 100) as Row[])
      : (this.db.prepare(`SELECT * FROM jobs ORDER BY id DESC LIMIT ?`).all(opts.limit ?? 100) as Row[]);
    return rows.map(toRecord);
  }

  cancel(id: number): JobRecord {
    const job = this.get(id);
    if (job.status === 'queued') {
      this.db
        .prepare(`UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'`)
        .run(nowIso(), id);
      this.settle(id);
    } else if (job.status === 'running') {
      this.controllers.get(id)?.abort();
    }
    return this.get(id);
  }

  wait(id: number): Promise<JobRecord> {
    const job = this.get(id);
    if (job.status === 'done' || job.status === 'failed' || job.status === 'cancelled') return Promise.resolve(job);
    return new Promise((resolve) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), resolve]));
  }

  private settle(id: number): void {
    const job = this.get(id);
    this.opts.onUpdate?.(job);
    for (const w of this.waiters.get(id) ?? []) w(job);
    this.waiters.delete(id);
  }

  private pump(): void {
    // While start() waits out its delay, nothing runs (an enqueue only queues).
    if (this.holding) return;
    const lanes = this.opts.lanes ?? DEFAULT_JOB_LANES;
    const limitOf = (lane: string) => this.opts.laneLimits?.[lane] ?? this.opts.concurrency ?? 1;
    while (!this.stopped) {
      const queued = this.db.prepare(`SELECT * FROM jobs WHERE status = 'queued' ORDER BY id`).all() as Row[];
      const next = queued.find((r) => {
        const lane = laneOf(r.kind, lanes);
        return (this.runningPerLane.get(lane) ?? 0) < limitOf(lane);
      });
      if (!next) return;
      const claimed = this.db
        .prepare(
          `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = ?, error = NULL WHERE id = ? AND status = 'queued'`,
        )
        .run(nowIso(), next.id);
      if (claimed.changes === 0) continue;
      const lane = laneOf(next.kind, lanes);
      this.runningPerLane.set(lane, (this.runningPerLane.get(lane) ?? 0) + 1);
      void this.execute(next.id).finally(() => {
        this.runningPerLane.set(lane, (this.runningPerLane.get(lane) ?? 1) - 1);
        this.pump();
      });
    }
  }

  private async execute(id: number): Promise<void> {
    const job = this.get(id);
    const started = Date.now();
    this.log.log('info', 'job.started', { job: id, kind: job.kind, attempt: job.attempts });
    this.opts.onUpdate?.(job);
    const controller = new AbortController();
    this.controllers.set(id, controller);
    const ctx: JobContext = {
      signal: controller.signal,
      jobId: id,
      progress: (fraction, message) => {
        const now = Date.now();
        // Progress is persisted at most twice a second; every update is still emitted.
        if (now - (this.lastProgressWrite.get(id) ?? 0) > 500 || fraction >= 1) {
          this.db
            .prepare(`UPDATE jobs SET progress = ?, message = ? WHERE id = ?`)
            .run(Math.min(1, Math.max(0, fraction)), message ?? null, id);
          this.lastProgressWrite.set(id, now);
        }
        this.opts.onUpdate?.({ ...job, status: 'running', progress: fraction, message: message ?? null });
      },
    };
    try {
      // The handler starts on a later turn of the event loop, never inside pump's caller.
      await new Promise((resolve) => setImmediate(resolve));
      const result = await this.handlers[job.kind]!(job.payload, ctx);
      if (controller.signal.aborted) throw new SpactError('cancelled', 'cancelled');
      this.db
        .prepare(`UPDATE jobs SET status = 'done', progress = 1, result = ?, finished_at = ? WHERE id = ?`)
        .run(JSON.stringify(result ?? null), nowIso(), id);
    } catch (err) {
      const e = toApiError(err);
      if (controller.signal.aborted || e.kind === 'cancelled') {
        this.db
          .prepare(`UPDATE jobs SET status = 'cancelled', error = NULL, finished_at = ? WHERE id = ?`)
          .run(nowIso(), id);
      } else if (retryable(err) && this.get(id).attempts < job.maxAttempts) {
        this.db.prepare(`UPDATE jobs SET status = 'queued', error = ? WHERE id = ?`).run(`${e.kind}: ${e.message}`, id);
      } else {
        this.db
          .prepare(`UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?`)
          .run(`${e.kind}: ${e.message}`, nowIso(), id);
      }
    } finally {
      this.controllers.delete(id);
      this.lastProgressWrite.delete(id);
    }
    const final = this.get(id);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const fields = { job: id, kind: job.kind, attempt: final.attempts, seconds };
    if (final.status === 'done') this.log.log('info', 'job.done', fields);
    else if (final.status === 'cancelled') this.log.log('info', 'job.cancelled', fields);
    else if (final.status === 'queued') this.log.log('warn', 'job.retry', { ...fields, error: final.error });
    else this.log.log('error', 'job.failed', { ...fields, error: final.error });
    if (final.status !== 'queued') this.settle(id);
  }
}
