// The queue seam: where the body of a job runs. The job runner (job-runner.ts) keeps every job's
// row (list, progress, cancel, wait: what the UI and the CLI see) in both modes; a dispatcher
// decides where one attempt runs. The embedded dispatcher runs it in this process (the default,
// nothing to install); the BullMQ one (bullmq-queue.ts) hands it to workers through Redis, with
// BullMQ's own retries with back-off and stalled-job handling, and reconciles its queue with the
// rows at start-up.
import type { JobContext, JobHandler } from './job-runner.js';

export type QueueMode = 'embedded' | 'bullmq';

/** One attempt of a job as a dispatcher receives it: what a worker needs, nothing of the app's. */
export interface DispatchedJob {
  /** The job's row id: a distributed queue names its copy by it (one copy per row). */
  id: number;
  kind: string;
  /** JSON data for the worker (paths of the app never appear here: grants of the data channel do). */
  data: unknown;
  /**
   * What the worker reports besides its fraction done (a fine-tune's steps and losses, its status
   * lines): handed over as the worker sent it, in order. Without it such reports are ignored.
   */
  onReport?: (report: unknown) => void;
}

/** A worker as the queue sees it (heartbeats). */
export interface WorkerInfo {
  id: string;
  host: string;
  device: string;
  threads: number;
  concurrency: number;
  /** Row ids of the jobs it runs now. */
  current: number[];
  /** Jobs it finished since it started. */
  done: number;
  /** Jobs per minute since it started. */
  perMinute: number;
  startedAt: string;
  lastSeen: string;
  draining: boolean;
}

export interface JobDispatcher {
  readonly mode: QueueMode;
  /**
   * Runs one job to its end and returns its result: progress through ctx.progress, cancelled by
   * ctx.signal. Retries are the dispatcher's own (BullMQ: attempts with exponential back-off; a
   * job that stalled twice, i.e. killed two workers, fails for good).
   */
  dispatch(job: DispatchedJob, ctx: JobContext): Promise<unknown>;
  /** Start-up: removes what the queue holds from a previous process (its rows are recovered by the runner). */
  reconcile(): Promise<{ removed: number }>;
  /** Workers seen by their heartbeats (empty for the embedded queue). */
  workers(): Promise<WorkerInfo[]>;
  /** Asks a worker to finish its current jobs, take no more and exit. */
  drain(workerId: string): Promise<void>;
  close(): Promise<void>;
}

/** Today's queue: the body runs in this process, through the kind's handler. */
export class EmbeddedDispatcher implements JobDispatcher {
  readonly mode = 'embedded' as const;
  constructor(private readonly handlers: Record<string, JobHandler>) {}

  dispatch(job: DispatchedJob, ctx: JobContext): Promise<unknown> {
    const handler = this.handlers[job.kind];
    if (!handler) throw new Error(`no handler for job kind "${job.kind}"`);
    return handler(job.data, ctx);
  }

  reconcile(): Promise<{ removed: number }> {
    return Promise.resolve({ removed: 0 }); // the rows are the queue: the runner recovers them
  }

  workers(): Promise<WorkerInfo[]> {
    return Promise.resolve([]);
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
