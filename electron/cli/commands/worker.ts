import fs from 'node:fs';
import path from 'node:path';

import { defaultDataDir } from '../../core/paths.js';
import { WorkerTokens } from '../../core/workers/work-channel.js';
import { SpactWorker } from '../../core/workers/worker.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

const DEVICE = /^(auto|cpu|cuda|cuda:\d+)$/;

function positiveInt(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run anonymize and fine-tune jobs of an app started with `spact serve --redis` (on this or another machine)',
  usage: `spact worker --redis URL --app URL [--token T] [--concurrency N] [--device auto|cpu|cuda:N] [--threads N] [--ca FILE] [--tmp-dir DIR]
spact worker --issue-token NAME | --revoke-token NAME | --list-tokens [--data-dir DIR] [--json]

Takes jobs from the app's queue (BullMQ on Redis) and runs them here. Inputs come from the app's
worker channel (--app, printed by \`spact serve --redis\`), sealed as they arrive with a key only this
process holds: raw video is never on this machine's disk in the clear, and each job's folder is
removed when it ends. Outputs are uploaded back with their sha256, which the app checks.
A job whose worker dies goes back to the queue for another worker; a job that stalls twice fails.
  --redis URL        the queue: redis://HOST:PORT (rediss:// for TLS)
  --app URL          the app's worker channel, http://127.0.0.1:PORT or https://HOST:PORT
  --token T          this worker's token (default: SPACT_WORKER_TOKEN; keep it out of shell history)
  --concurrency N    jobs at once (default 1)
  --device D         auto (CUDA when present), cpu, cuda or cuda:N (default auto)
  --threads N        compute threads per job, 0: all cores (default 0)
  --ca FILE          a CA certificate (PEM) to trust for an https channel
  --tmp-dir DIR      where the job folders go (default: the system's temporary folder)
  --lock-ms N        how long a job's lock outlives a dead worker, ms (default 10000)
  --queue NAME       the app's queue name (its \`spact serve --queue\`; default spact-jobs)
  --issue-token NAME on the app's machine: print a new token for the worker NAME (replaces an
                     earlier one of that name); the data folder keeps only its hash
  --revoke-token NAME  on the app's machine: the worker NAME is refused from its next request on
                     (a job it runs goes back to the queue; the worker stops)
  --list-tokens      on the app's machine: the workers that have a token, and since when`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      redis: { type: 'string' },
      app: { type: 'string' },
      token: { type: 'string' },
      concurrency: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      ca: { type: 'string' },
      'tmp-dir': { type: 'string' },
      'lock-ms': { type: 'string' },
      queue: { type: 'string' },
      'issue-token': { type: 'string' },
      'revoke-token': { type: 'string' },
      'list-tokens': { type: 'boolean' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    const tokens = () => new WorkerTokens(path.resolve(values['data-dir'] ?? defaultDataDir()));
    if (values['issue-token'] !== undefined) {
      const token = tokens().issue(values['issue-token']);
      if (values.json) printJson({ name: values['issue-token'], token });
      else process.stdout.write(`${token}\n`);
      return 0;
    }
    if (values['revoke-token'] !== undefined) {
      tokens().revoke(values['revoke-token']);
      if (values.json) printJson({ name: values['revoke-token'], revoked: true });
      else progress(`the token of worker "${values['revoke-token']}" is revoked`);
      return 0;
    }
    if (values['list-tokens']) {
      const list = tokens()
        .list()
        .map((t) => ({ name: t.name, createdAt: t.createdAt }));
      if (values.json) printJson(list);
      else if (list.length === 0) process.stdout.write('no worker tokens\n');
      else for (const t of list) process.stdout.write(`${t.name}\tissued ${t.createdAt}\n`);
      return 0;
    }
    if (!values.redis) throw new UsageError('--redis URL is required');
    if (!values.app) throw new UsageError('--app URL is required');
    const token = values.token ?? process.env.SPACT_WORKER_TOKEN;
    if (!token) throw new UsageError('--token (or SPACT_WORKER_TOKEN) is required');
    if (values.device !== undefined && !DEVICE.test(values.device))
      throw new UsageError(`--device must be auto, cpu, cuda or cuda:N, got "${values.device}"`);
    const concurrency = positiveInt(values.concurrency, '--concurrency', 1);
    const threads = positiveInt(values.threads, '--threads', 0);
    const lockMs = positiveInt(values['lock-ms'], '--lock-ms', 1000);
    const worker = new SpactWorker({
      redis: values.redis,
      app: values.app,
      token,
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(values.device ? { device: values.device } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(lockMs !== undefined ? { lockMs } : {}),
      ...(values.queue ? { queue: values.queue } : {}),
      ...(values.ca ? { ca: fs.readFileSync(values.ca, 'utf8') } : {}),
      ...(values['tmp-dir'] ? { tmpDir: path.resolve(values['tmp-dir']) } : {}),
      log: progress,
    });
    const stop = () => void worker.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await worker.start();
    } catch (err) {
      await worker.close();
      throw err;
    }
    await worker.ended;
    progress(`worker ${worker.id}: stopped`);
    return 0;
  },
};
