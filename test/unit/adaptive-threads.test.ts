// Issue 12: an OpenMP team that shares its CPUs with other busy processes waits for descheduled
// members at every barrier; the compute thread then uses the CPUs left (ContentionMonitor in
// native-models/src/compute_thread.h). Linux only (it reads /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

import { afterAll, describe, expect, it } from 'vitest';

import { loadNative, resolveConfig, SpactEngine, type LabelSpace } from '../../native-models/ts/index.js';

// The test environment fixes thread counts (vitest.config.ts); this file is about adapting them.
// Read when the process's compute thread starts, i.e. at the first engine below.
process.env.SPACT_ADAPTIVE_THREADS = '1';
const native = loadNative();
const labels: LabelSpace = { actions: ['a', 'b'], multiLabelActions: false, privacyAttributes: [] };
const busy: ChildProcess[] = [];
afterAll(() => busy.forEach((p) => p.kill()));

describe('thread count under contention', () => {
  it('shrinks the team to the CPUs other processes leave', async () => {
    const cpus = os.availableParallelism();
    const config = resolveConfig({
      overrides: {
        data: { batchSize: 2, clipFrames: 2, frameStride: 1 },
        augment: { enabled: false },
        threads: 2,
        seed: 1,
      },
    });
    const engine = new SpactEngine(config, labels);
    const [n, t, h, w] = [2, 2, 32, 32];
    const b = { frames: new Uint8Array(n * t * h * w * 3).fill(90), n, t, h, w, actions: Int32Array.from([0, 1]) };
    await engine.stepA(b);
    // As many busy processes as CPUs: every CPU is taken by someone else.
    for (let i = 0; i < cpus; i++) busy.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const deadline = Date.now() + 20_000;
    while (native.threadAudit().appliedThreads !== 1 && Date.now() < deadline) await engine.stepA(b);
    expect(native.threadAudit().appliedThreads).toBe(1);
  });
});
