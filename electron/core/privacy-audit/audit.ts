// Privacy audits in the library: the audit job of a clip's newest anonymized output (the video
// audit of video-audit.ts with the app's shared judges, progress and cancel), the stored reports
// (table privacy_audits, schema 3), and sampleFrames, frames spread over a file (also used to
// measure how tall people are for the auto working size).
import { mediaInput } from '../vault/raw-feed.js';
import { spawn } from 'node:child_process';

import type { AnonymizeService } from '../anonymize/anonymize-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import { nowIso, type Db } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { JobContext } from '../jobs/job-runner.js';
import type { LibraryService } from '../library/library-service.js';
import { ffmpegPath, ffmpegReason } from '../media/ffmpeg.js';
import { probeVideo } from '../media/video.js';
import type { Judges } from './judges.js';
import { auditVideo, type VideoAuditReport } from './video-audit.js';

/** `count` frames spread over the file (images give one), RGB at a fixed width. */
export async function sampleFrames(
  file: string,
  count: number,
  width: number,
): Promise<{ frames: Uint8Array[]; width: number; height: number }> {
  const info = await probeVideo(file);
  const height = Math.max(2, 2 * Math.round((info.height * width) / info.width / 2));
  // A still image has no duration: its one frame is taken as is.
  const still = !(info.durationS > 0.1) || info.frames === 1;
  const filter = still
    ? `scale=${width}:${height}`
    : `fps=${Math.max(0.01, count / info.durationS)},scale=${width}:${height}`;
  const src = await mediaInput(file); // sealed raw footage: through the loopback feed
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-i',
    src.input,
    '-vf',
    filter,
    '-frames:v',
    String(still ? 1 : count),
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  const { stdout, stderr, code } = await new Promise<{ stdout: Buffer; stderr: string; code: number }>(
    (resolve, reject) => {
      const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ stdout: Buffer.concat(chunks), stderr: err, code: c ?? -1 }));
    },
  ).finally(() => src.release());
  if (code !== 0) throw new SpactError('bad-input', `${file}: could not read frames (${ffmpegReason(stderr)})`);
  const fb = width * height * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + fb <= stdout.length; o += fb) frames.push(new Uint8Array(stdout.subarray(o, o + fb)));
  if (frames.length === 0) throw new SpactError('bad-input', `${file}: no frame could be decoded`);
  return { frames, width, height };
}

// ---------------------------------------------------------------- stored audits

/** What the audit job of a library output is asked to do. */
export interface AuditJob {
  clipId: number;
  outputId: number;
  /** The role that asked for it (recorded with the report and in the audit log). */
  actor: string;
  startS?: number;
  endS?: number | null;
}

export interface StoredAudit {
  id: number;
  clipId: number;
  outputId: number;
  modelId: number;
  actor: string;
  createdAt: string;
  report: VideoAuditReport;
}

interface AuditRow {
  id: number;
  output_id: number;
  clip_id: number;
  model_id: number;
  actor: string;
  report: string;
  created_at: string;
}

const toStored = (r: AuditRow): StoredAudit => ({
  id: r.id,
  clipId: r.clip_id,
  outputId: r.output_id,
  modelId: r.model_id,
  actor: r.actor,
  createdAt: r.created_at,
  report: JSON.parse(r.report) as VideoAuditReport,
});

const SELECT_AUDIT = `SELECT a.id, a.output_id, o.clip_id, o.model_id, a.actor, a.report, a.created_at
  FROM privacy_audits a JOIN outputs o ON o.id = a.output_id`;

/** The privacy audits of anonymized outputs; an audit goes when its output (or clip) is deleted. */
export class PrivacyAuditStore {
  constructor(private readonly db: Db) {}

  save(outputId: number, actor: string, report: VideoAuditReport): StoredAudit {
    const info = this.db
      .prepare(
        `INSERT INTO privacy_audits (output_id, actor, start_s, end_s, identity_verdict, utility_verdict, report, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        outputId,
        actor,
        report.window.startS,
        report.window.endS,
        report.verdict.identity,
        report.verdict.utility,
        JSON.stringify(report),
        nowIso(),
      );
    return this.get(Number(info.lastInsertRowid));
  }

  get(id: number): StoredAudit {
    const r = this.db.prepare(`${SELECT_AUDIT} WHERE a.id = ?`).get(id) as AuditRow | undefined;
    if (!r) throw new SpactError('not-found', `privacy audit ${id} does not exist`);
    return toStored(r);
  }

  /** The newest audit of a clip (of any of its outputs), or of one output. */
  latest(by: { clipId: number } | { outputId: number }): StoredAudit | null {
    const r = (
      'outputId' in by
        ? this.db.prepare(`${SELECT_AUDIT} WHERE a.output_id = ? ORDER BY a.id DESC LIMIT 1`).get(by.outputId)
        : this.db.prepare(`${SELECT_AUDIT} WHERE o.clip_id = ? ORDER BY a.id DESC LIMIT 1`).get(by.clipId)
    ) as AuditRow | undefined;
    return r ? toStored(r) : null;
  }
}

// ---------------------------------------------------------------- the audit job

/** Where the audit stands (0–1) by its progress messages (video-audit.ts): the raw side first
 *  (skipped when cached), then the identity attackers, then the judges on the anonymized frames. */
export function auditProgressFraction(message: string): number | null {
  const at = (re: RegExp, from: number, span: number) => {
    const m = re.exec(message);
    return m ? from + (span * Number(m[1])) / Math.max(1, Number(m[2])) : null;
  };
  return (
    at(/finding people on raw frame (\d+)\/(\d+)/, 0.02, 0.23) ??
    at(/finding people on anonymized frame (\d+)\/(\d+)/, 0.8, 0.12) ??
    (/decoding the raw window/.test(message)
      ? 0.01
      : /judging the pose of .* raw/.test(message)
        ? 0.26
        : /looking for faces on raw/.test(message)
          ? 0.3
          : /training identity attackers on the raw video/.test(message)
            ? 0.5
            : /training identity attackers/.test(message)
              ? 0.33
              : /judging poses on anonymized/.test(message)
                ? 0.93
                : null)
  );
}

export interface AuditJobDeps {
  library: LibraryService;
  anonymize: AnonymizeService;
  store: PrivacyAuditStore;
  log: AuditLog;
  /** The app's judges, loaded once and shared. */
  judges: () => Promise<Judges>;
  /** Cached judge results of raw clips and outputs (content-keyed). */
  cacheDir: string;
  /** Device and threads of the identity attackers (the app's settings, read when the job starts). */
  engine?: () => { device: string; threads: number };
}

/** The audit job: judges the output against its clip, stores the report, records it in the log. */
export async function runAuditJob(
  deps: AuditJobDeps,
  job: AuditJob,
  ctx: JobContext,
): Promise<{ auditId: number; clipId: number; outputId: number; identity: string; utility: string }> {
  const clip = deps.library.clip(job.clipId);
  const out = deps.anonymize.output(job.outputId);
  if (out.clipId !== clip.id)
    throw new SpactError('validation', `output ${out.id} is not an output of clip ${clip.id}`);
  let done = 0;
  ctx.progress(0, 'loading the judges…');
  const judges = await deps.judges();
  const engine = deps.engine?.();
  const report = await auditVideo(clip.path, out.path, {
    judges,
    cacheDir: deps.cacheDir,
    ...(engine ? { classifier: { device: engine.device, threads: engine.threads } } : {}),
    ...(job.startS !== undefined ? { startS: job.startS } : {}),
    ...(job.endS !== undefined ? { endS: job.endS } : {}),
    signal: ctx.signal,
    onProgress: (message) => {
      done = Math.max(done, auditProgressFraction(message) ?? done);
      ctx.progress(done, message);
    },
  });
  if (ctx.signal.aborted) throw new SpactError('cancelled', 'the audit was cancelled');
  const saved = deps.store.save(out.id, job.actor, report);
  deps.log.record(job.actor, 'privacy-audit', `output:${out.id}`, {
    auditId: saved.id,
    window: [report.window.startS, report.window.endS],
    identity: report.verdict.identity,
    utility: report.verdict.utility,
    worst: report.identity.worst,
    chance: report.identity.chance,
    personRecall: report.utility.personRecall,
  });
  return {
    auditId: saved.id,
    clipId: clip.id,
    outputId: out.id,
    identity: report.verdict.identity,
    utility: report.verdict.utility,
  };
}
