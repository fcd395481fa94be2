// The judges' worker thread: loads the models once and answers one frame at a time. Errors go
// back as data with their kind (the thread that asked turns them into SpactErrors again).
import os from 'node:os';
import { parentPort } from 'node:worker_threads';

import { toApiError } from '../errors.js';
import { InThreadJudges } from './judges.js';
import type { JudgeReply, JudgeRequest } from './judges-worker-client.js';

// On Linux a nice value belongs to a thread: this one yields to the thread that answers the window
// (elsewhere it would lower the whole process, so it is left alone there).
if (process.platform === 'linux') {
  try {
    os.setPriority(10);
  } catch {
    // not allowed: normal priority
  }
}

const port = parentPort;
if (!port) throw new Error('judges-worker.js runs as a worker thread');
const judges = InThreadJudges.load();
judges.catch(() => undefined); // reported to each request below

port.on('message', (r: JudgeRequest) => {
  void (async (): Promise<JudgeReply> => {
    try {
      const j = await judges;
      if (r.method === 'load') return { id: r.id, ok: true, value: null };
      return { id: r.id, ok: true, value: await j[r.method](r.rgb, r.width, r.height) };
    } catch (err) {
      return { id: r.id, ok: false, error: toApiError(err) };
    }
  })().then((reply) => port.postMessage(reply));
});
