// The video privacy audit with its real judges on real footage (test/fixtures/footage: 6 s of
// pedestrians), on a black video, on a still photo, through `spact audit`, and as a job of the app
// (stored, surviving a restart, cancellable). The raw side is cached in one folder for the whole
// file, the window is 4 s, at most 64 person crops are pose-judged (of ~130) and the attackers
// train 20 epochs (30 by default: every attacker still scores over 5× chance on the excerpt), so
// the file stays within about two minutes on a laptop CPU.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { events as contractEvents, methods, VideoAuditReportView } from '../../electron/contract.js';
import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';
import { Judges, type FaceFinding } from '../../electron/core/privacy-audit/judges.js';
import {
  auditVideo,
  faceReid,
  type RawAnalysis,
  type VideoAuditOptions,
  type VideoAuditReport,
} from '../../electron/core/privacy-audit/video-audit.js';
import { createCoreServices } from '../../electron/core/services.js';
import { projectRoot, spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

const excerpt = path.join(projectRoot, 'test/fixtures/footage/room-a-excerpt.mp4');
// A real photo shipped inside @vladmandic/human: one person, face visible.
const photo = path.join(projectRoot, 'node_modules/@vladmandic/human/assets/screenshot-faceid.jpg');
const cacheDir = tmpDir('spact-audit-cache-');
const work = tmpDir('spact-audit-');
const black = path.join(work, 'black.mp4');
let judges: Judges;
const opts = (extra: VideoAuditOptions = {}): VideoAuditOptions & { judges: Judges } => ({
  judges,
  cacheDir,
  maxSeconds: 4,
  faceFrames: 2,
  maxPoseCrops: 64,
  ...extra,
});

/** Every field of a report is declared in the contract (parsing strips undeclared ones). */
const expectContract = (r: VideoAuditReport) => expect(VideoAuditReportView.parse(r)).toEqual(r);

beforeAll(async () => {
  judges = await Judges.load();
  // A black video of the excerpt's size, rate and length: nobody to find, nothing to identify.
  const r = spawnSync(ffmpegPath(), [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'color=black:s=768x576:r=10:d=6',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-y',
    black,
  ]);
  expect(r.status).toBe(0);
}, 120_000);

describe('video privacy audit with pretrained judges on real footage', () => {
  let self: VideoAuditReport;

  it('judges a video against itself: people followed, every attacker at its ceiling, people and poses kept', async () => {
    self = await auditVideo(excerpt, excerpt, opts({ classifier: { epochs: 20 } }));
    expect(self.window).toMatchObject({ startS: 0, endS: 4, frames: 40, fps: 10, width: 768, height: 576 });
    expect(self.tracks.usable).toBeGreaterThanOrEqual(2);
    const chance = 1 / self.tracks.usable;
    expect(self.identity.chance).toBeCloseTo(chance, 9);
    expect(self.identity.attackers.map((a) => a.id)).toEqual([
      'appearance-reid',
      'cnn-raw',
      'colour-raw',
      'linkage',
      'cnn-anonymized',
      'colour-anonymized',
    ]);
    for (const a of self.identity.attackers) {
      // The anonymized video is the raw one: each attacker scores exactly its ceiling…
      expect(a.anonymized, a.id).toBeCloseTo(a.raw, 9);
      // …which is far above guessing on real people in their own clothes.
      expect(a.raw, a.id).toBeGreaterThanOrEqual(3 * chance);
    }
    expect(self.utility.personsOnRaw).toBeGreaterThan(0);
    expect(self.utility.personRecall).toBe(1);
    expect(self.utility.poseAgreement).toBeGreaterThanOrEqual(0.95);
    expect(self.verdict).toMatchObject({ identity: 'identifiable', utility: 'people-kept' });
    expect(self.verdict.summary).toMatch(/identifiable/);
    expectContract(self);
  }, 300_000);

  it('judges a black video: nobody found, no attacker above guessing (the raw side from the cache)', async () => {
    expect(fs.readdirSync(cacheDir).some((f) => f.startsWith('raw-'))).toBe(true);
    // Constant crops are scored at exactly chance however long the attackers train.
    const r = await auditVideo(excerpt, black, opts({ classifier: { epochs: 2 } }));
    expect(r.tracks).toEqual(self.tracks);
    const chance = r.identity.chance!;
    expect(r.identity.attackers).toHaveLength(6);
    for (const a of r.identity.attackers) expect(a.anonymized, a.id).toBeLessThanOrEqual(chance + 0.02);
    expect(r.utility.personRecall).toBe(0);
    expect(r.verdict).toMatchObject({ identity: 'shape-only', utility: 'people-lost' });
    expectContract(r);
  }, 300_000);

  it('re-identifies the face of a still photo against itself (rank-1 = 1) and calls identity inconclusive', async () => {
    const r = await auditVideo(photo, photo, opts({ faceFrames: 1 }));
    expect(r.window.frames).toBe(1);
    expect(r.faces.onRaw).toBeGreaterThan(0);
    expect(r.faces.onAnonymized).toBe(r.faces.onRaw);
    expect(r.faces.reid.length).toBeGreaterThan(0);
    for (const x of r.faces.reid) expect(x).toMatchObject({ rank1: 1, rank1RawVsRaw: 1 });
    expect(r.faces.rank1).toBe(1);
    // One frame: nobody can be followed, so nothing can be said about whole-body identity.
    expect(r.identity).toMatchObject({ chance: null, attackers: [], worst: null });
    expect(r.verdict.identity).toBe('inconclusive');
    expect(r.verdict.summary).toMatch(/Too few people/);
    expectContract(r);
  }, 120_000);
});

describe('face re-identification with identities from tracks', () => {
  // Two tracked people, each with a face in all 8 judged frames; equal frames give equal embeddings.
  const box = (x: number) => ({ x, y: 0.1, w: 0.2, h: 0.6 });
  const faceOf = (x: number, embedding: number[]): FaceFinding => ({
    judge: 'human',
    box: { x: x + 0.05, y: 0.12, w: 0.1, h: 0.1 },
    score: 0.9,
    embedding,
    gender: null,
    age: null,
  });
  const frames = [0, 1, 2, 3, 4, 5, 6, 7];
  const raw = {
    faceFrames: frames,
    rawFaces: frames.map(() => [faceOf(0.1, [1, 0.1, 0]), faceOf(0.6, [0, 0.1, 1])]),
    tracks: [0.1, 0.6].map((x, id) => ({
      id,
      points: frames.map((frame) => ({ frame, box: box(x), score: 0.9, occluded: false })),
    })),
  } as unknown as RawAnalysis;

  it('counts equal faces of one person as one identity (a clip against itself scores 1)', () => {
    // One gallery identity per detection made every frame of a person a rival of the others:
    // a clip judged against itself scored below 1. Tracks make them one identity.
    const r = faceReid(raw, raw.rawFaces, 'human');
    expect(r).toMatchObject({ judge: 'human', identities: 2, rank1: 1, rank1RawVsRaw: 1, chance: 0.5 });
  });

  it('scores swapped faces as misses and vanished faces as not re-identified', () => {
    const swapped = frames.map(() => [faceOf(0.1, [0, 0.1, 1]), faceOf(0.6, [1, 0.1, 0])]);
    expect(faceReid(raw, swapped, 'human').rank1).toBe(0);
    const vanished = frames.map((f) => (f < 6 ? raw.rawFaces[f]! : []));
    // Probes are the second half (frames 4–7): two of four vanish for each person.
    expect(faceReid(raw, vanished, 'human').rank1).toBe(0.5);
  });
});

describe('spact audit', () => {
  it('--json prints the whole report as one object; without it a summary in words, verdict first', async () => {
    const r = await spact(['audit', '--raw', photo, '--anonymized', photo, '--face-frames', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as VideoAuditReport;
    expectContract(report);
    expect(report.verdict.identity).toBe('inconclusive');
    expect(r.stderr).toMatch(/loading the judges/);
    const text = await spact(['audit', '--raw', photo, '--anonymized', photo, '--face-frames', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('');
    const summary = text.stderr.slice(text.stderr.indexOf('Verdict:'));
    expect(summary).toMatch(/^Verdict: Too few people/);
    expect(summary).toMatch(/Identity: inconclusive/);
    expect(summary).toMatch(/Person recall: /);
    expect(summary).toMatch(/Pose agreement: /);
    expect(summary).toMatch(/Faces: .*face re-identification: .*100%/);
  }, 120_000);

  it('answers bad input with one line and a non-zero exit', async () => {
    const corrupt = path.join(work, 'corrupt.mp4');
    fs.writeFileSync(corrupt, Buffer.alloc(4096, 7));
    const cases: [string[], RegExp][] = [
      [['--raw', '/nope.mp4', '--anonymized', excerpt], /\/nope\.mp4: no such file/],
      [['--raw', excerpt, '--anonymized', corrupt], /corrupt\.mp4: /],
      [
        ['--raw', excerpt, '--anonymized', excerpt, '--start', '3', '--end', '2'],
        /--start \(3 s\) must be before --end/,
      ],
      [['--raw', excerpt, '--anonymized', excerpt, '--start', '10'], /window is empty/],
    ];
    for (const [args, reason] of cases) {
      const r = await spact(['audit', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^spact audit: error: /);
      expect(lines[0]).toMatch(reason);
    }
  }, 120_000);
});

describe('the audit in the app: a job, stored with the output, kept across restarts', () => {
  it('runs clips.audit as a cancellable job and keeps the report for clips.auditReport', async () => {
    const dataDir = tmpDir('spact-audit-app-');
    const clipFile = makeVideo(path.join(work, 'ward.mp4'), { width: 160, height: 120, seconds: 1 });
    type Services = ReturnType<typeof createCoreServices>;
    const call = async (s: Services, method: string, req: unknown) => {
      const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
      if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
      return r.value as never;
    };
    let services = createCoreServices({ dataDir, role: 'operator' });
    const events: unknown[] = [];
    services.events.subscribe((event, payload) => {
      if (event === 'job.updated') events.push(payload);
    });
    const { imported } = await call(services, 'clips.import', { paths: [clipFile] });
    const clipId = (imported as { id: number }[])[0]!.id;
    // Nothing to audit before an anonymization.
    const early = await services.dispatcher.dispatch('clips.audit', { clipId }, { transport: 'bridge' });
    expect(early).toMatchObject({ ok: false, error: { kind: 'conflict' } });
    const { jobIds } = await call(services, 'clips.anonymize', { clipIds: [clipId] });
    expect((await services.core.jobs.wait((jobIds as number[])[0]!)).status).toBe('done');

    // A cancelled audit stores nothing.
    const first = (await call(services, 'clips.audit', { clipId })) as { jobId: number; outputId: number };
    await call(services, 'jobs.cancel', { id: first.jobId });
    expect((await services.core.jobs.wait(first.jobId)).status).toBe('cancelled');
    expect(await call(services, 'clips.auditReport', { clipId })).toEqual({ audit: null, job: null });

    const started = (await call(services, 'clips.audit', { clipId })) as { jobId: number; outputId: number };
    expect(started).toMatchObject({ clipId, outputId: first.outputId });
    // Asked again while it runs: the same job.
    expect(await call(services, 'clips.audit', { clipId })).toEqual(started);
    const running = (await call(services, 'clips.auditReport', { clipId })) as { job: { id: number } | null };
    expect(running.job?.id).toBe(started.jobId);
    const done = await services.core.jobs.wait(started.jobId);
    expect(done.status, done.error ?? '').toBe('done');
    expect(done.result).toMatchObject({ clipId, outputId: started.outputId, identity: 'inconclusive' });
    const progress = events
      .map((e) => e as { id: number; progress: number; message: string | null })
      .filter((e) => e.id === started.jobId && e.progress > 0 && e.progress < 1);
    expect(progress.length).toBeGreaterThan(0);
    for (const e of events) expect(contractEvents['job.updated'].safeParse(e).success).toBe(true);

    const answer = await call(services, 'clips.auditReport', { clipId });
    expect(methods['clips.auditReport'].response.parse(answer)).toEqual(answer);
    const { audit } = answer as { audit: { outputId: number; actor: string; report: VideoAuditReport } };
    expect(audit).toMatchObject({ clipId, outputId: started.outputId, actor: 'operator' });
    // A test pattern has no people: inconclusive, and said so.
    expect(audit.report.verdict.identity).toBe('inconclusive');
    expect(audit.report.tracks.usable).toBe(0);
    await services.close();

    // After a restart the report is still there, for every role; starting one needs an operator.
    services = createCoreServices({ dataDir, role: 'viewer' });
    expect(await call(services, 'clips.auditReport', { clipId, outputId: started.outputId })).toEqual(answer);
    expect(await services.dispatcher.dispatch('clips.audit', { clipId }, { transport: 'bridge' })).toMatchObject({
      ok: false,
      error: { kind: 'forbidden' },
    });
    expect(services.core.audit.entries().some((e) => e.action === 'privacy-audit')).toBe(true);
    await call(services, 'session.switch', { role: 'admin' });
    // The audit goes with its clip.
    await call(services, 'clips.delete', { id: clipId });
    expect(services.core.db.prepare(`SELECT COUNT(*) AS n FROM privacy_audits`).get()).toEqual({ n: 0 });
    await services.close();
  }, 300_000);
});
