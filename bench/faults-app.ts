// A process of the app, as the fault-injection suite (bench/faults.ts) starts and kills it: the
// core services of the app (the same dispatcher the window and browser mode call) on a data
// folder, doing one thing and exiting when it is done.
//
//   node dist/node/bench/faults-app.js --data-dir DIR --op OP [--request JSON]
//
// OP: setup (a room at a fixed working size, the clip imported, the models registered; prints
// {roomId, clipId, modelId, baseModelId}), import, anonymize, export, finetune (the dispatcher
// method with REQUEST, then waits for its job), or restart (start-up reconciliation, then waits
// until every requeued job has ended). Prints `ready` on stderr when the operation starts.
import { parseArgs } from 'node:util';

import { createCoreServices } from '../electron/core/services.js';

const { values } = parseArgs({
  options: { 'data-dir': { type: 'string' }, op: { type: 'string' }, request: { type: 'string' } },
});
const dataDir = values['data-dir'];
if (!dataDir || !values.op) throw new Error('usage: faults-app --data-dir DIR --op OP [--request JSON]');
const request = JSON.parse(values.request ?? '{}') as Record<string, unknown>;

const s = createCoreServices({ dataDir, role: 'operator' });

async function call<T>(method: string, req: unknown): Promise<T> {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

const active = () => [...s.core.jobs.list({ status: 'queued' }), ...s.core.jobs.list({ status: 'running' })];

/** Waits for jobs to end; a failed one is reported (the suite judges the folder, not the job). */
async function waitJobs(ids: number[]): Promise<string[]> {
  const ended = await Promise.all(ids.map((id) => s.core.jobs.wait(id)));
  return ended.map((j) => `${j.kind} ${j.id}: ${j.status}${j.error ? ` (${j.error})` : ''}`);
}

let result: unknown = null;
switch (values.op) {
  case 'setup': {
    const r = request as { clip: string; footage: string[]; model: string; base: string; size: number };
    const room = await call<{ id: number }>('rooms.create', { name: 'faults' });
    await call('rooms.setSize', { roomId: room.id, workingSize: r.size });
    const imported = await call<{ imported: { id: number }[] }>('clips.import', {
      paths: [r.clip, ...r.footage],
      roomId: room.id,
    });
    result = {
      roomId: room.id,
      clipId: imported.imported[0]!.id,
      modelId: s.core.resolveModel(r.model).id,
      baseModelId: s.core.resolveModel(r.base).id,
    };
    break;
  }
  case 'import':
    process.stderr.write('ready\n');
    result = await call('clips.import', request);
    break;
  case 'anonymize': {
    process.stderr.write('ready\n');
    const { jobIds } = await call<{ jobIds: number[] }>('clips.anonymize', request);
    result = await waitJobs(jobIds);
    break;
  }
  case 'export': {
    process.stderr.write('ready\n');
    const { jobId } = await call<{ jobId: number }>('exports.start', request);
    result = await waitJobs([jobId]);
    break;
  }
  case 'finetune': {
    process.stderr.write('ready\n');
    const run = await call<{ id: number }>('runs.start', request);
    const job = s.core.jobs
      .list()
      .find((j) => j.kind === 'finetune' && (j.payload as { runId: number }).runId === run.id);
    result = await waitJobs(job ? [job.id] : []);
    break;
  }
  case 'restart': {
    process.stderr.write('ready\n');
    // Requeued jobs are queued at once and start after the file reconciliation (in the
    // background, milliseconds here): give it that long, then wait until nothing is queued or running.
    await new Promise((r) => setTimeout(r, 500));
    for (let left = active(); left.length; left = active()) await waitJobs(left.map((j) => j.id));
    result = s.core.jobs.list({ limit: 1000 }).map((j) => `${j.kind} ${j.id}: ${j.status}`);
    break;
  }
  default:
    throw new Error(`unknown --op ${values.op}`);
}
await s.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
