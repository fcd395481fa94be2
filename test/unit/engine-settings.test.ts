// Settings that do what they say (issue 13, item 5, and the memory budget of item 3): device,
// threads and memoryBudgetMiB reach every new anonymize job, live frame, fine-tune and audit; a
// CUDA device this machine lacks fails with kind 'unavailable'; the data folder is not a setting.
import path from 'node:path';

import { beforeAll, describe, expect, it, vi } from 'vitest';

import { MEMORY_BUDGET_LIMITS } from '../../electron/contract.js';
import {
  CROP_H,
  CROP_W,
  DEFAULT_CLASSIFIER_BUDGET,
  trainClassifier,
} from '../../electron/core/privacy-audit/identity.js';
import { createCoreServices, type CoreServices } from '../../electron/core/services.js';
import { finetune } from '../../electron/core/training/finetune.js';
import {
  activationBytesPerPixel,
  anonymizeWithinBudget,
  callBudgetsFor,
  cpuBatchPixelsPerCall,
  defaultMaxPixelsPerCall,
  MEMORY_BUDGET_MIB,
  MEMORY_RESERVE_MIB,
  tileMargin,
  unetDivisor,
  type Anonymizer,
} from '../../native-models/ts/anonymizer.js';
import { checkDevice, DeviceUnavailableError } from '../../native-models/ts/engine.js';
import { loadNative } from '../../native-models/ts/native.js';
import { readCheckpointMeta } from '../../native-models/ts/checkpoint.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const EDGE = { widths: [16, 32, 64] };
const PAPER = { widths: [64, 128, 256, 512, 512] };

describe('checkDevice', () => {
  const none = () => ({ cudaAvailable: false, cudaDevices: 0, torchVersion: '1.13.1' });
  const two = () => ({ cudaAvailable: true, cudaDevices: 2, torchVersion: '2.1.0' });

  it('accepts auto and cpu without asking the engine', () => {
    const info = vi.fn(none);
    checkDevice('auto', info);
    checkDevice('cpu', info);
    expect(info).not.toHaveBeenCalled();
  });

  it('refuses a CUDA device the machine lacks with kind unavailable and one line, never falling back', () => {
    for (const d of ['cuda', 'cuda:0', 'cuda:3']) {
      let err: unknown;
      try {
        checkDevice(d, none);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DeviceUnavailableError);
      expect((err as DeviceUnavailableError).kind).toBe('unavailable');
      expect((err as Error).message).toBe(
        `device "${d}" is not available: this machine has no usable CUDA GPU (libtorch 1.13.1 sees none); choose auto or cpu`,
      );
    }
    checkDevice('cuda', two);
    checkDevice('cuda:1', two);
    expect(() => checkDevice('cuda:2', two)).toThrow(
      'device "cuda:2" is not available: this machine has 2 CUDA device(s) (cuda:0–cuda:1)',
    );
  });

  it('refuses a malformed device as bad input', () => {
    for (const d of ['gpu', 'cpu:0', 'cuda:x', ''])
      expect(() => checkDevice(d, none)).toThrow(/device must be auto, cpu, cuda or cuda:N/);
  });
});

describe('memory budget → pixels per f_A call', () => {
  it('the default budget gives the calls bench:pipeline measured (≤ 1.42 GiB at every working size)', () => {
    expect(MEMORY_BUDGET_MIB).toEqual(MEMORY_BUDGET_LIMITS);
    for (const shape of [EDGE, PAPER]) {
      const cpu = callBudgetsFor(MEMORY_BUDGET_MIB.default, shape, true);
      expect(cpu.maxPixelsPerCall).toBe(defaultMaxPixelsPerCall(shape));
      expect(cpu.batchPixelsPerCall).toBe(cpuBatchPixelsPerCall(shape));
      const gpu = callBudgetsFor(MEMORY_BUDGET_MIB.default, shape, false);
      expect(gpu).toEqual({
        maxPixelsPerCall: defaultMaxPixelsPerCall(shape),
        batchPixelsPerCall: cpu.maxPixelsPerCall,
      });
    }
  });

  it('the budget less the reserve bounds one call: a smaller budget gives smaller calls on every device', () => {
    let last = { cpu: Infinity, gpu: Infinity, max: Infinity };
    for (const mib of [65536, 8192, 2048, 1792, 1536, 1280]) {
      const cpu = callBudgetsFor(mib, EDGE, true);
      const gpu = callBudgetsFor(mib, EDGE, false);
      // The activations of the largest call stay within what the reserve leaves.
      expect(cpu.maxPixelsPerCall * activationBytesPerPixel(EDGE)).toBeLessThanOrEqual(
        (mib - MEMORY_RESERVE_MIB) * 2 ** 20,
      );
      expect(cpu.batchPixelsPerCall).toBeLessThanOrEqual(last.cpu);
      expect(gpu.batchPixelsPerCall).toBeLessThan(last.gpu);
      expect(cpu.maxPixelsPerCall).toBeLessThan(last.max);
      last = { cpu: cpu.batchPixelsPerCall, gpu: gpu.batchPixelsPerCall, max: cpu.maxPixelsPerCall };
    }
    // At the minimum a call is as large as a CPU groups frames for speed.
    expect(callBudgetsFor(MEMORY_BUDGET_MIB.min, EDGE, true)).toEqual({
      maxPixelsPerCall: cpuBatchPixelsPerCall(EDGE),
      batchPixelsPerCall: cpuBatchPixelsPerCall(EDGE),
    });
  });

  it('refuses a budget out of its limits', () => {
    for (const mib of [0, 1279, 65537, 1500.5, Number.NaN])
      expect(() => callBudgetsFor(mib, EDGE, true)).toThrow(/memory budget must be an integer 1280–65536 MiB/);
  });

  it('frames go through f_A in smaller calls under a smaller budget, with the same result', async () => {
    const [n, h, w] = [24, 120, 160];
    const frames = new Uint8Array(n * h * w * 3);
    for (let i = 0; i < frames.length; i++) frames[i] = (i * 7) % 251;
    const inverted = Buffer.from(frames.map((v) => 255 - v));
    const plan = (mib: number) => ({
      ...callBudgetsFor(mib, EDGE, false),
      margin: tileMargin(EDGE),
      divisor: unetDivisor(EDGE),
    });
    const calls = async (mib: number) => {
      const seen: number[] = [];
      const out = await anonymizeWithinBudget(
        async (f, k, th, tw) => {
          seen.push(k * th * tw);
          return f.map((v) => 255 - v);
        },
        frames,
        n,
        h,
        w,
        plan(mib),
      );
      expect(inverted.equals(out)).toBe(true);
      return seen;
    };
    const big = await calls(2048);
    const small = await calls(1280);
    expect(Math.max(...small)).toBeLessThan(Math.max(...big));
    expect(small.length).toBeGreaterThan(big.length);
    for (const px of small) expect(px).toBeLessThanOrEqual(plan(1280).batchPixelsPerCall);
  });
});

describe('settings reach new jobs (native engine)', () => {
  const cuda = (() => {
    try {
      return loadNative().info().cudaAvailable;
    } catch {
      return false;
    }
  })();
  let model = '';
  let clip = '';
  beforeAll(async () => {
    model = await tinyModel();
    clip = makeVideo(path.join(tmpDir('spact-es-videos-'), 'cam.mp4'), { width: 160, height: 120, seconds: 1 });
  }, 120_000);

  const call = (s: CoreServices, method: string, req: unknown) =>
    s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  const value = async <T>(p: Promise<unknown>): Promise<T> => {
    const r = (await p) as { ok: boolean; value?: T; error?: unknown };
    expect(r.ok, JSON.stringify(r.error)).toBe(true);
    return r.value as T;
  };

  it('settings.set stores device, threads and memory budget; refuses the data folder, bad values and an absent CUDA device', async () => {
    const dir = tmpDir('spact-es-');
    const s = createCoreServices({ dataDir: dir, role: 'admin' });
    expect(await value(call(s, 'settings.get', {}))).toMatchObject({
      dataDir: dir,
      device: 'auto',
      threads: 0,
      memoryBudgetMiB: 2048,
    });
    expect(await value(call(s, 'settings.set', { device: 'cpu', threads: 1, memoryBudgetMiB: 1536 }))).toMatchObject({
      device: 'cpu',
      threads: 1,
      memoryBudgetMiB: 1536,
    });
    for (const bad of [{ dataDir: '/elsewhere' }, { memoryBudgetMiB: 1024 }, { threads: -1 }, { device: 'gpu' }])
      expect(await call(s, 'settings.set', bad)).toMatchObject({ ok: false, error: { kind: 'validation' } });
    const gpu = await call(s, 'settings.set', { device: 'cuda:0' });
    if (cuda) expect(gpu).toMatchObject({ ok: true, value: { device: 'cuda:0' } });
    else {
      expect(gpu).toMatchObject({ ok: false, error: { kind: 'unavailable' } });
      const message = (gpu as { error: { message: string } }).error.message;
      expect(message).toMatch(/^device "cuda:0" is not available: this machine has no usable CUDA GPU/);
      expect(message.split('\n')).toHaveLength(1);
      expect(await value(call(s, 'settings.get', {}))).toMatchObject({ device: 'cpu' });
    }
    await s.close();
  });

  it('an anonymize job and a live frame run with the settings of their start; a change applies to the next one', async () => {
    const s = createCoreServices({ dataDir: tmpDir('spact-es-'), role: 'admin' });
    const modelId = s.core.resolveModel(model).id;
    const clipId = (await s.core.library.importClip(clip)).id;
    await value(call(s, 'settings.set', { inputSize: 112 }));
    const runJob = async () => {
      const { jobIds } = await value<{ jobIds: number[] }>(call(s, 'clips.anonymize', { clipIds: [clipId], modelId }));
      const done = await s.core.jobs.wait(jobIds[0]!);
      expect(done.status, done.error ?? '').toBe('done');
      return (done.result as { engine: Record<string, unknown> }).engine;
    };
    await value(call(s, 'settings.set', { device: 'cpu', threads: 1, memoryBudgetMiB: 1280 }));
    const small = callBudgetsFor(1280, readCheckpointMeta(path.join(model, 'checkpoint.pt')).config.model.fA, true);
    expect(await runJob()).toEqual({ device: 'cpu', threads: 1, memoryBudgetMiB: 1280, ...small });

    await value(call(s, 'settings.set', { threads: 2, memoryBudgetMiB: 2048 }));
    const engine = await runJob();
    expect(engine).toMatchObject({ device: 'cpu', threads: 2, memoryBudgetMiB: 2048 });
    expect(engine.maxPixelsPerCall as number).toBeGreaterThan(small.maxPixelsPerCall);

    // The live preview takes its anonymizer from the same place, per frame (pinned for the frame).
    const anonymize = s.core.anonymize;
    const withAnonymizer = anonymize.withAnonymizer.bind(anonymize);
    let live: Anonymizer | undefined;
    const spy = vi
      .spyOn(anonymize, 'withAnonymizer')
      .mockImplementation((m, e, job) => withAnonymizer(m, e, (a) => ((live = a), job(a))));
    await value(call(s, 'settings.set', { threads: 1, memoryBudgetMiB: 1280 }));
    const rgb = Buffer.alloc(64 * 48 * 3, 90).toString('base64');
    await value(call(s, 'live.anonymizeFrame', { modelId, width: 64, height: 48, rgb }));
    expect(spy).toHaveBeenCalledTimes(1);
    expect([live?.device, live?.threads, live?.maxPixelsPerCall]).toEqual(['cpu', 1, small.maxPixelsPerCall]);
    spy.mockRestore();
    await s.close();
  }, 120_000);

  it('CLI: --memory-budget sets the calls of spact anonymize (files and library clips); a bad value is one line', async () => {
    const fA = readCheckpointMeta(path.join(model, 'checkpoint.pt')).config.model.fA;
    const out = tmpDir('spact-es-cli-');
    const r = await spact([
      'anonymize',
      clip,
      '-o',
      out,
      '--model',
      model,
      '--size',
      '112',
      '--memory-budget',
      '1280',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [item] = JSON.parse(r.stdout) as { engine: Record<string, unknown> }[];
    expect(item!.engine).toMatchObject({ memoryBudgetMiB: 1280, ...callBudgetsFor(1280, fA, true) });

    const dataDir = tmpDir('spact-es-cli-data-');
    const imported = await spact(['import', clip, '--data-dir', dataDir, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    const lib = await spact([
      'anonymize',
      '--clips',
      '1',
      '--model',
      model,
      '--size',
      '112',
      '--memory-budget',
      '1536',
      '--data-dir',
      dataDir,
      '--json',
    ]);
    expect(lib.code, lib.stderr).toBe(0);
    expect(JSON.parse(lib.stdout)[0].engine).toMatchObject({
      memoryBudgetMiB: 1536,
      ...callBudgetsFor(1536, fA, true),
    });

    for (const bad of ['100', '2k', '70000']) {
      const b = await spact(['anonymize', clip, '-o', out, '--model', model, '--memory-budget', bad]);
      expect(b.code).not.toBe(0);
      expect(b.stderr.split('\n')[0]).toMatch(/--memory-budget must be an integer 1280–65536 \(MiB\), got "/);
    }
  }, 120_000);

  it.skipIf(cuda)(
    'a CUDA device stored where none exists (a moved data folder) fails jobs and live frames with its reason',
    async () => {
      const s = createCoreServices({ dataDir: tmpDir('spact-es-'), role: 'admin' });
      const modelId = s.core.resolveModel(model).id;
      const clipId = (await s.core.library.importClip(clip)).id;
      s.core.db.prepare(`INSERT INTO settings (key, value) VALUES ('device', '"cuda:0"')`).run();
      expect(await value(call(s, 'settings.get', {}))).toMatchObject({ device: 'cuda:0' });
      const { jobIds } = await value<{ jobIds: number[] }>(call(s, 'clips.anonymize', { clipIds: [clipId], modelId }));
      const done = await s.core.jobs.wait(jobIds[0]!);
      expect(done.status).toBe('failed');
      expect(done.error).toMatch(/^unavailable: device "cuda:0" is not available: this machine has no usable CUDA GPU/);
      const rgb = Buffer.alloc(16 * 16 * 3).toString('base64');
      expect(await call(s, 'live.anonymizeFrame', { modelId, width: 16, height: 16, rgb })).toMatchObject({
        ok: false,
        error: { kind: 'unavailable' },
      });
      await s.close();
    },
    120_000,
  );

  it('a fine-tune trains with the device and threads of the settings when it starts', async () => {
    const s = createCoreServices({ dataDir: tmpDir('spact-es-'), role: 'admin' });
    const baseModelId = s.core.resolveModel(model).id;
    const room = s.core.library.createRoom('Ward 1');
    const footage = makeVideo(path.join(tmpDir('spact-es-videos-'), 'room.mp4'), {
      width: 64,
      height: 64,
      seconds: 12,
    });
    await s.core.library.importClip(footage, { roomId: room.id });
    await value(call(s, 'settings.set', { device: 'cpu', threads: 1 }));
    const run = await value<{ id: number }>(
      call(s, 'runs.start', { roomId: room.id, baseModelId, recipe: 'synthroom', steps: 2, clips: 8 }),
    );
    const job = s.core.jobs.list({}).find((j) => j.kind === 'finetune')!;
    const done = await s.core.jobs.wait(job.id);
    expect(done.status, done.error ?? '').toBe('done');
    const meta = readCheckpointMeta((done.result as { checkpoint: string }).checkpoint);
    expect(meta.config).toMatchObject({ device: 'cpu', threads: 1 });
    expect(run.id).toBeGreaterThan(0);

    // A resumed run computes where the settings say when it resumes.
    const out = path.join(tmpDir('spact-es-ft-'), 'run');
    const controller = new AbortController();
    const first = await finetune({
      footage: [footage],
      base: model,
      out,
      recipe: 'synthroom',
      steps: 4,
      clips: 8,
      engine: { device: 'cpu', threads: 1 },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'minimax' && p.minimaxStep === 1) controller.abort();
      },
    });
    expect(first.stopReason).toBe('cancelled');
    expect(readCheckpointMeta(path.join(out, 'checkpoint.pt')).config.threads).toBe(1);
    const resumed = await finetune({ footage: [], base: '', out, resume: true, engine: { device: 'cpu', threads: 2 } });
    expect(readCheckpointMeta(resumed.checkpoint).config).toMatchObject({ device: 'cpu', threads: 2 });
    await s.close();
  }, 300_000);

  it("the audit's identity attackers train with the settings' device and threads", async () => {
    const gallery = Array.from({ length: 8 }, (_, i) => ({
      track: i % 2,
      crop: new Uint8Array(CROP_W * CROP_H * 3).fill(40 + 100 * (i % 2)),
    }));
    const budget = { ...DEFAULT_CLASSIFIER_BUDGET, epochs: 1, batchSize: 4, device: 'cpu', threads: 1 };
    await trainClassifier('colour-mlp', gallery, 2, budget);
    expect(loadNative().threadAudit().appliedThreads).toBe(1);
    if (!cuda)
      await expect(trainClassifier('colour-mlp', gallery, 2, { ...budget, device: 'cuda:0' })).rejects.toMatchObject({
        kind: 'unavailable',
      });
  });
});
