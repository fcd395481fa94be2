import { SpactError } from '../../core/errors.js';
import { probeVideo } from '../../core/media/video.js';
import { auditVideo, type AttackerScore, type VideoAuditReport } from '../../core/privacy-audit/video-audit.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

const pct = (v: number | null) => (v === null ? '–' : `${Math.round(100 * v)}%`);

/** Short names of the attackers for the table (their labels say the rest). */
const SHORT: Record<AttackerScore['id'], string> = {
  'appearance-reid': 'appearance match',
  'cnn-raw': 'CNN (standardised grey)',
  'colour-raw': 'clothing colours',
  linkage: 'appearance linkage',
  'cnn-anonymized': 'CNN',
  'colour-anonymized': 'clothing colours',
};

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => `  ${r.map((v, c) => (c === 0 || c === 1 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ')}`)
    .join('\n');
}

/** The report in plain words: the verdict first, then what each attacker achieved and what was judged. */
export function auditSummary(r: VideoAuditReport, rawFile: string): string {
  const w = r.window;
  const lines = [
    `Verdict: ${r.verdict.summary}`,
    '',
    `Judged: ${w.startS.toFixed(1)}–${w.endS.toFixed(1)} s of ${rawFile} (${w.frames} frame${w.frames === 1 ? '' : 's'} at ${w.width}×${w.height}, ${w.fps} fps); ${r.tracks.total} ${r.tracks.total === 1 ? 'person' : 'people'} followed, ${r.tracks.usable} with enough pictures to test identity.`,
  ];
  if (r.identity.attackers.length) {
    lines.push(
      '',
      `Identity attackers (how often each picks the right person among ${r.tracks.usable}):`,
      table([
        ['attacker', 'holds', 'anonymized', 'guessing', 'on raw', 'on silhouettes'],
        ...r.identity.attackers.map((a) => [
          SHORT[a.id],
          a.holds === 'raw' ? 'raw pictures' : 'anonymized footage only',
          pct(a.anonymized),
          pct(r.identity.chance),
          pct(a.raw),
          pct(a.silhouette),
        ]),
      ]),
    );
  } else {
    lines.push(
      '',
      `Identity: inconclusive — fewer than 2 people could be followed on the raw video, so no attacker was run. This is not evidence of privacy.`,
    );
  }
  const u = r.utility;
  lines.push(
    '',
    u.personRecall === null
      ? 'Person recall: – (nobody found on the raw video)'
      : `Person recall: ${pct(u.personRecall)} of the ${u.personsOnRaw === 1 ? 'person' : `${u.personsOnRaw} people`} seen on the raw frames ${u.personsOnRaw === 1 ? 'is' : 'are'} still found on the anonymized ones`,
    u.poseAgreement === null
      ? 'Pose agreement: – (no confident body keypoint on the raw video)'
      : `Pose agreement: ${pct(u.poseAgreement)} of ${u.keypointsOnRaw} raw body keypoints are found at the same place`,
  );
  const f = r.faces;
  const reid = f.reid.length
    ? f.reid
        .map(
          (x) =>
            `${x.judge} ${pct(x.rank1)} (raw vs raw ${pct(x.rank1RawVsRaw)}, ${x.identities} ${x.identities === 1 ? 'identity' : 'identities'}, guessing ${pct(x.chance)})`,
        )
        .join('; ')
    : 'not tested (no face on the raw frames)';
  lines.push(
    `Faces: ${f.onRaw} on ${f.framesJudged} raw frame${f.framesJudged === 1 ? '' : 's'}, ${f.onAnonymized} on the anonymized ones; face re-identification: ${reid}${f.genderAgreement === null ? '' : `; gender agreement ${pct(f.genderAgreement)}`}`,
  );
  return lines.join('\n');
}

const seconds = (v: string | undefined, name: string, min: number): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`${name} must be a number of seconds ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
};

export const auditCommand: Command = {
  name: 'audit',
  summary: 'privacy audit of an anonymized video against its raw source with independent pretrained judges',
  usage: `spact audit --raw IN --anonymized OUT [--start S] [--end S] [--max-seconds N] [--face-frames N] [--json]

Judges a window of consecutive frames (at most 10 fps, at most 960 px wide) of the raw and the
anonymized video with independent pretrained judges (@vladmandic/human: CenterNet, MoveNet,
BlazeFace/FaceRes; @vladmandic/face-api). People are found on the raw frames and followed over
time; each person's first half of pictures is the gallery, the second half the probes.

  identity  whole-body attackers that hold raw pictures of the people (appearance match, a CNN on
            standardised grey, a clothing-colour classifier) or only the anonymized footage
            (appearance linkage, CNN, colour classifier). Each score is how often the attacker
            picks the right person (averaged over people), beside guessing (1 / people), the same
            attacker on the raw video (its ceiling) and on flat grey silhouettes (shape only).
            With fewer than 2 people followed, identity is inconclusive.
  utility   person recall (people still found on the anonymized frames) and pose agreement (raw
            body keypoints found at the same place).
  faces     faces found and face re-identification, identities from the people followed.

  --start S          where the judged window starts, seconds (default 0)
  --end S            where it ends (default: the end of the video, at most --max-seconds later)
  --max-seconds N    longest window judged (default 30): bounds time and memory
  --face-frames N    frames given to the face judges, spread over the window (default 12; 0 = none)
  --json             print the whole report as one JSON object on stdout

Takes about a minute per 10 s of 768×576 video on a laptop CPU. Progress and a readable summary
go to stderr.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      raw: { type: 'string' },
      anonymized: { type: 'string' },
      start: { type: 'string' },
      end: { type: 'string' },
      'max-seconds': { type: 'string' },
      'face-frames': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.raw || !values.anonymized) throw new UsageError('--raw IN and --anonymized OUT are required');
    const startS = seconds(values.start, '--start', 0);
    const endS = seconds(values.end, '--end', 0);
    const maxSeconds = seconds(values['max-seconds'], '--max-seconds', 0.1);
    const faceFrames = values['face-frames'] === undefined ? undefined : Number(values['face-frames']);
    if (faceFrames !== undefined && (!Number.isInteger(faceFrames) || faceFrames < 0 || faceFrames > 200))
      throw new UsageError(`--face-frames must be an integer 0–200, got ${JSON.stringify(values['face-frames'])}`);
    // Bad input fails in one line before the judges load.
    if (startS !== undefined && endS !== undefined && startS >= endS)
      throw new SpactError('validation', `--start (${startS} s) must be before --end (${endS} s)`);
    const raw = await probeVideo(values.raw);
    await probeVideo(values.anonymized);
    const still = !(raw.durationS > 0.1) || raw.frames === 1;
    if (!still && startS !== undefined && startS >= raw.durationS)
      throw new SpactError(
        'validation',
        `--start ${startS} s is at or after the end of ${values.raw} (${raw.durationS.toFixed(1)} s): the judged window is empty`,
      );
    progress('loading the judges…');
    const report = await auditVideo(values.raw, values.anonymized, {
      ...(startS !== undefined ? { startS } : {}),
      ...(endS !== undefined ? { endS } : {}),
      ...(maxSeconds !== undefined ? { maxSeconds } : {}),
      ...(faceFrames !== undefined ? { faceFrames } : {}),
      onProgress: progress,
    });
    if (values.json) printJson(report);
    else progress(`\n${auditSummary(report, values.raw)}`);
    return 0;
  },
};
