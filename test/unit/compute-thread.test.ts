// Issue 12: every libtorch call of an engine or probe runs on the process's one compute thread
// (native-models/src/compute_thread.h), and the thread count is set only when it changes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadNative, resolveConfig, SpactEngine, type LabelSpace } from '../../native-models/ts/index.js';

// The counts below are the requested ones: no shrinking of the team while other test files keep
// the CPUs busy (that policy has its own test, adaptive-threads.test.ts). Read when the compute
// thread starts, so before the first engine of this process.
process.env.SPACT_ADAPTIVE_THREADS = '0';
const native = loadNative();
const labels: LabelSpace = { actions: ['a', 'b'], multiLabelActions: false, privacyAttributes: [] };

function config(threads: number) {
  return resolveConfig({
    overrides: {
      data: { batchSize: 2, clipFrames: 2, frameStride: 1 },
      augment: { enabled: false },
      threads,
      seed: 1,
    },
  });
}

function batch() {
  const [n, t, h, w] = [2, 2, 32, 32];
  const frames = Uint8Array.from({ length: n * t * h * w * 3 }, (_, i) => (i * 37) % 256);
  return { frames, n, t, h, w, actions: Int32Array.from([0, 1]) };
}

/** Threads of this process, from /proc (Linux): OpenMP teams show up here as worker threads. */
function processThreads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

describe('one compute thread per process', () => {
  it('runs construction, steps, inference, saving, loading and inspection on the compute thread', async () => {
    const before = native.threadAudit();
    const engine = new SpactEngine(config(2), labels);
    const b = batch();
    await engine.initA(b);
    await engine.initTB(b, { updateT: true, updateB: true });
    await engine.stepA(b);
    await engine.stepTB(b);
    await engine.evaluate(b);
    await engine.anonymize(b.frames.subarray(0, 32 * 32 * 3 * 2), 2, 32, 32);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-thread-'));
    await engine.save(path.join(dir, 'w.pt'), '{}');
    await engine.load(path.join(dir, 'w.pt'));
    engine.fingerprint();
    engine.describe();
    const after = native.threadAudit();
    // Engine, initA, initTB ×2 (stepTB runs it), stepA, stepTB, evaluate, anonymize, save, load,
    // parameterCounts, fingerprint: at least 12 entry points, none of them off the compute thread.
    expect(after.onCompute - before.onCompute).toBeGreaterThanOrEqual(12);
    expect(after.offNames).toEqual([]);
    expect(after.offCompute).toBe(0);
  });

  it('sets the thread count once, not before every step, and again only when it changes', async () => {
    const engine = new SpactEngine(config(2), labels);
    const b = batch();
    await engine.stepA(b); // the count of 2 is in force from here on
    const settled = native.threadAudit().threadChanges;
    for (let i = 0; i < 3; i++) {
      await engine.stepA(b);
      await engine.stepTB(b);
    }
    expect(native.threadAudit().threadChanges).toBe(settled);

    // Another engine of the process with another count: the process's policy follows the change.
    const single = new SpactEngine(config(1), labels);
    await single.stepA(b);
    expect(native.threadAudit().threadChanges).toBe(settled + 1);
    await single.stepTB(b);
    expect(native.threadAudit().threadChanges).toBe(settled + 1);
    expect(single.describe().threads).toBe(1);
  });

  it('keeps one OpenMP team however many engines the process holds', async () => {
    const first = new SpactEngine(config(2), labels);
    const b = batch();
    await first.stepA(b);
    await first.stepTB(b);
    const threads = processThreads();
    // Before, each engine had its own compute thread, and so its own team of OpenMP workers.
    const more = [new SpactEngine(config(2), labels), new SpactEngine(config(2), labels)];
    for (const e of more) {
      await e.stepA(b);
      await e.stepTB(b);
    }
    expect(processThreads()).toBe(threads);
  });

  it('still rejects a bad config synchronously, with the kind of the error', () => {
    expect(() => new SpactEngine(resolveConfig({ overrides: { device: 'cuda:99', threads: 2 } }), labels)).toThrow(
      /cuda:99|CUDA/,
    );
  });
});
