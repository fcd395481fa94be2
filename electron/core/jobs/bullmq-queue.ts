// The BullMQ dispatcher (see job-queue.ts): one BullMQ job per job row, named `job-<row id>`, run
// by `spact worker` processes on any machine that reaches the Redis server. BullMQ does what a
// home-made queue would get wrong: a worker holds a lock on its job and renews it while it lives
// (its heartbeat); a worker that dies stops renewing, the job is "stalled" and goes back to the
// queue for another worker; stalled twice (it killed two workers) it fails for good. Errors worth
// retrying are retried with exponential back-off; the others fail at once (UnrecoverableError).
// Cancel: a waiting job is removed; a running one gets a cancel key its worker polls each second.
// Workers' heartbeats and the drain request are plain keys next to the queue (queueKeys). An app
// and its workers share a queue name (default spact-jobs): two apps on one Redis use two names.
import { randomBytes } from 'node:crypto';

import { Job, Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';

import type { ApiError } from '../../contract.js';
import { SpactError } from '../errors.js';
import { silentOpsLog, type OpsLogger } from '../ops-log.js';
import type { DispatchedJob, JobDispatcher, WorkerInfo } from './job-queue.js';
import { finalJobError, type JobContext } from './job-runner.js';

export const DEFAULT_QUEUE_NAME = 'spact-jobs';

/** A queue name as given (--queue, SPACT_QUEUE), checked; undefined: the default. */
export function queueNameOf(name: string | undefined): string {
  if (name === undefined || name === '') return DEFAULT_QUEUE_NAME;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new SpactError('validation', `a queue name is 1–64 letters, digits, '_' or '-', got "${name}"`);
  return name;
}

/** The BullMQ queue of a name and the keys of its app and workers next to BullMQ's (under `spact:<name>:`). */
export function queueKeys(name: string = DEFAULT_QUEUE_NAME) {
  const prefix = name === DEFAULT_QUEUE_NAME ? 'spact' : `spact:${name}`;
  return {
    queue: name,
    /** Hash: worker id → its last heartbeat (JSON WorkerInfo); stale after HEARTBEAT_TTL_S. */
    workers: `${prefix}:workers`,
    /** Present: the worker finishes its current jobs and exits. */
    drain: (id: string) => `${prefix}:drain:${id}`,
    /** Present: the running job is cancelled by its worker. */
    cancel: (bullJobId: string) => `${prefix}:cancel:${bullJobId}`,
  };
}

/** Seconds a heartbeat lives: a worker sends one every HEARTBEAT_MS. */
export const HEARTBEAT_TTL_S = 15;
export const HEARTBEAT_MS = 3000;

/** What a worker sets as failedReason: `kind: message`, read back into a SpactError. */
export function failedReasonOf(e: ApiError): string {
  return `${e.kind}: ${e.message}`;
}

const KINDS: ApiError['kind'][] = [
  'validation',
  'bad-input',
  'not-found',
  'unauthorized',
  'forbidden',
  'conflict',
  'unavailable',
  'cancelled',
  'internal',
];

function errorOf(reason: string): SpactError {
  const m = /^([a-z-]+): ([\s\S]*)$/.exec(reason);
  if (m && KINDS.includes(m[1] as ApiError['kind'])) return new SpactError(m[1] as ApiError['kind'], m[2]!);
  // BullMQ's own reasons: "job stalled more than allowable limit" is a job that killed two workers.
  if (/stalled/.test(reason))
    return new SpactError('unavailable', `workers died twice while running this job (${reason}); not retried`);
  return new SpactError('internal', reason);
}

/** ioredis options from a redis:// or rediss:// URL (TLS for rediss). */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SpactError('validation', `not a Redis URL: "${url}" (redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new SpactError('validation', `not a Redis URL: "${url}" (redis://HOST:PORT or rediss://)`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ's blocking connections must not give up on a slow command.
    maxRetriesPerRequest: null,
  };
}

export interface BullmqDispatcherOptions {
  redis: string;
  /** Attempts per job on workers (errors worth retrying), default 3. */
  attempts?: number;
  /** First back-off between attempts, ms (doubles each time), default 1000. */
  backoffMs?: number;
  /** The queue's name, shared with its workers (default spact-jobs). */
  queue?: string;
  /** How often a job in flight is looked up in Redis (ms, default 5000): see dispatch(). */
  watchMs?: number;
  log?: OpsLogger;
}

export class BullmqDispatcher implements JobDispatcher {
  readonly mode = 'bullmq' as const;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly progress = new Map<string, (data: unknown) => void>();
  private readonly log: OpsLogger;
  private readonly keys: ReturnType<typeof queueKeys>;

  constructor(private readonly opts: BullmqDispatcherOptions) {
    const connection = redisConnection(opts.redis);
    this.log = opts.log ?? silentOpsLog;
    this.keys = queueKeys(queueNameOf(opts.queue));
    this.queue = new Queue(this.keys.queue, { connection });
    this.events = new QueueEvents(this.keys.queue, { connection });
    // An unreachable Redis is reported by dispatch (its commands fail), not as an unhandled event.
    // Every job in flight waits on these (a listener each): dozens at once are expected.
    this.queue.setMaxListeners(0);
    this.events.setMaxListeners(0);
    this.queue.on('error', () => undefined);
    this.events.on('error', () => undefined);
    // Runs inside BullMQ's event loop: an exception here would end it (no events for any job).
    this.events.on('progress', ({ jobId, data }) => {
      try {
        this.progress.get(jobId)?.(data);
      } catch (err) {
        this.log.log('error', 'workers.report-failed', { job: jobId, error: err });
      }
    });
  }

  /** Resolves once both connections are up (or rejects with why not). */
  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  async dispatch(job: DispatchedJob, ctx: JobContext): Promise<unknown> {
    // One BullMQ job per attempt the app makes: the data it names (channel grants) live only as
    // long as this process, so a copy from before a restart is never reattached (see reconcile).
    const jobId = `job-${job.id}-${randomBytes(4).toString('hex')}`;
    // While Redis is unreachable its commands wait for it: a cancel must not wait with them.
    const cancelledEarly = new Promise<never>((_, reject) => {
      const onAbort = () => reject(new SpactError('cancelled', 'cancelled'));
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
    cancelledEarly.catch(() => undefined);
    const addOptions: JobsOptions = {
      jobId,
      attempts: this.opts.attempts ?? 3,
      backoff: { type: 'exponential', delay: this.opts.backoffMs ?? 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    };
    let added: Job = await Promise.race([
      this.ready().then(() => this.queue.add(job.kind, job.data, addOptions)),
      cancelledEarly,
    ]);
    // A number is the fraction done; anything else is the job kind's own report (job.onReport).
    this.progress.set(jobId, (data) => {
      if (typeof data === 'number') ctx.progress(data, `on a worker (${job.kind})`);
      else job.onReport?.(data);
    });
    const client = await this.queue.client;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        // The app stops waiting at once: the job's grant is revoked when dispatch returns, so nothing
        // it would upload is recorded. Redis is told in the background (it may be unreachable, or
        // the job's only worker dead): its worker sees the cancel key within a heartbeat, and a
        // waiting copy is removed — tried again while it is locked by a worker that may have died.
        reject(new SpactError('cancelled', 'cancelled'));
        void (async () => {
          await client.set(this.keys.cancel(jobId), '1', { EX: 3600 });
          for (let attempt = 0; attempt < 20; attempt++) {
            const gone = await added.remove().then(
              () => true,
              () => false,
            );
            if (gone || (await added.isCompleted()) || (await added.isFailed())) return;
            await new Promise((r) => setTimeout(r, 3000).unref());
          }
        })().catch(() => undefined);
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
    // The job's end: its completed/failed event, or its state looked up now and every watchMs — the
    // event may never come: Redis restarted without its data (the job is gone: queued again, its
    // data is still here) or the event was missed while the connection was down. The app never
    // waits forever on Redis. Listeners are removed however dispatch ends (a cancel included).
    let watching = true;
    let timer: NodeJS.Timeout | undefined;
    // Per-job events (`completed:<id>`) are emitted by QueueEvents but not in its typed list.
    const perJob = this.events as unknown as NodeJS.EventEmitter;
    let onCompleted: ((args: { returnvalue: unknown }) => void) | undefined;
    let onFailed: ((args: { failedReason: string }) => void) | undefined;
    const finished = new Promise<unknown>((resolve, reject) => {
      onCompleted = ({ returnvalue }) => resolve(returnvalue);
      onFailed = ({ failedReason }) => reject(new Error(failedReason));
      perJob.on(`completed:${jobId}`, onCompleted);
      perJob.on(`failed:${jobId}`, onFailed);
      let busy = false;
      const lookUp = () => {
        if (busy) return;
        busy = true;
        void (async () => {
          const state = await this.queue.getJobState(jobId);
          if (!watching || ctx.signal.aborted) return;
          if (state === 'completed' || state === 'failed') {
            const ended = await Job.fromId(this.queue, jobId);
            if (!ended || !watching) return;
            if (state === 'completed') resolve(ended.returnvalue);
            else reject(new Error(ended.failedReason));
          } else if (state === 'unknown') {
            this.log.log('warn', 'workers.job-lost', { job: job.id, kind: job.kind });
            const again = await this.queue.add(job.kind, job.data, addOptions);
            // Settled or cancelled meanwhile: the copy just made must not outlive dispatch.
            if (!watching || ctx.signal.aborted) await again.remove().catch(() => undefined);
            else added = again;
          }
        })()
          .catch(() => undefined) // Redis unreachable: looked up again at the next tick
          .finally(() => (busy = false));
      };
      // Once the events are listened to (an end before that has no event to wait for), then each tick.
      void this.events.waitUntilReady().then(lookUp, () => undefined);
      timer = setInterval(lookUp, this.opts.watchMs ?? 5000);
    });
    try {
      const value: unknown = await Promise.race([finished, aborted]).finally(
        () => (watching = false), // before the removal below: a lookup meanwhile must not queue it again
      );
      await added.remove().catch(() => undefined);
      return value;
    } catch (err) {
      if (err instanceof SpactError) throw err;
      await added.remove().catch(() => undefined);
      throw finalJobError(errorOf((err as Error).message));
    } finally {
      watching = false;
      clearInterval(timer);
      if (onCompleted) perJob.off(`completed:${jobId}`, onCompleted);
      if (onFailed) perJob.off(`failed:${jobId}`, onFailed);
      if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
      this.progress.delete(jobId);
      // A cancelled job keeps its key (it expires) until its worker has seen it.
      if (!ctx.signal.aborted) await client.del(this.keys.cancel(jobId)).catch(() => undefined);
    }
  }

  /**
   * Start-up: what a previous process of the app left in the queue names grants that died with it,
   * so every copy goes (a running one is cancelled by its worker); its row was requeued or failed
   * by the runner's recovery (an interruption counted), as with the embedded queue.
   */
  async reconcile(): Promise<{ removed: number }> {
    await this.ready();
    const client = await this.queue.client;
    let removed = 0;
    const jobs = await this.queue.getJobs([
      'waiting',
      'delayed',
      'prioritized',
      'paused',
      'active',
      'completed',
      'failed',
    ]);
    for (const j of jobs) {
      await client.set(this.keys.cancel(j.id ?? ''), '1', { EX: 3600 });
      await j.remove().catch(() => undefined);
      removed++;
    }
    return { removed };
  }

  async workers(): Promise<WorkerInfo[]> {
    // The admin view answers even while Redis is unreachable (its commands would wait for it).
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SpactError('unavailable', 'the Redis server of the queue does not answer')),
        3000,
      );
    });
    try {
      return await Promise.race([this.readWorkers(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readWorkers(): Promise<WorkerInfo[]> {
    const client = await this.queue.client;
    const beats = await client.hgetall(this.keys.workers);
    const out: WorkerInfo[] = [];
    for (const [id, beat] of Object.entries(beats).sort(([a], [b]) => a.localeCompare(b))) {
      const w = JSON.parse(beat) as WorkerInfo;
      // Gone (no heartbeat for HEARTBEAT_TTL_S: exited or died) is forgotten.
      if (Date.now() - Date.parse(w.lastSeen) > HEARTBEAT_TTL_S * 1000) await client.hdel(this.keys.workers, id);
      else out.push(w);
    }
    return out;
  }

  async drain(workerId: string): Promise<void> {
    const client = await this.queue.client;
    if (!(await client.hexists(this.keys.workers, workerId)))
      throw new SpactError('not-found', `no worker "${workerId}"`);
    await client.set(this.keys.drain(workerId), '1', { EX: 86_400 });
  }

  /** Closes the connections; with Redis unreachable, gives up after 2 s (the app's shutdown never waits on it). */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((resolve) => (timer = setTimeout(resolve, 2000)));
    await Promise.race([Promise.allSettled([this.events.close(), this.queue.close()]), late]);
    clearTimeout(timer);
    // Not awaited: against an unreachable Redis these never settle (BullMQ 5); they stop retrying.
    void Promise.allSettled([this.events.disconnect(), this.queue.disconnect()]);
  }
}
