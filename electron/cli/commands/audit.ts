import { auditPair } from '../../core/privacy-audit/audit.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(0)}%`);

export const auditCommand: Command = {
  name: 'audit',
  summary: 'privacy audit with independent pretrained judges (faces, re-identification, persons, pose)',
  usage: `spact audit --raw IN --anonymized OUT [--frames N] [--width W] [--json]

Samples the same N frames (default 8) of the raw and the anonymized video or image, at the raw
frames' width (default up to 640), and runs two independent pretrained judges on both
(@vladmandic/human: BlazeFace/FaceRes, CenterNet, MoveNet; @vladmandic/face-api: SSD MobileNet +
face recognition). Reports faces found, face re-identification rank-1 (worst judge), gender and
age agreement, person detection recall and keypoint agreement (PCK) relative to raw, and the
judges' own behaviour on the raw frames.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      raw: { type: 'string' },
      anonymized: { type: 'string' },
      frames: { type: 'string' },
      width: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.raw || !values.anonymized) throw new UsageError('--raw IN and --anonymized OUT are required');
    const frames = values.frames === undefined ? 8 : Number(values.frames);
    const width = values.width === undefined ? 640 : Number(values.width);
    if (!Number.isInteger(frames) || frames < 1 || frames > 200) throw new UsageError('--frames must be 1–200');
    if (!Number.isInteger(width) || width < 64 || width > 4096) throw new UsageError('--width must be 64–4096');
    progress('loading the judges and sampling frames…');
    const r = await auditPair(values.raw, values.anonymized, { frames, width });
    if (values.json) printJson(r);
    else {
      progress(
        [
          `frames judged: ${r.frames} at ${r.width}×${r.height}`,
          `faces: ${r.faces_raw} on raw → ${r.faces_anonymized} anonymized (detectors agree on raw: ${pct(r.judges_on_raw.face_detector_agreement)})`,
          `face re-identification rank-1: ${pct(r.reid_rank1)} (raw vs raw: ${pct(r.judges_on_raw.reid_rank1_raw_vs_raw)})`,
          `gender agreement: ${pct(r.gender_agreement)} · age error: ${r.age_mae === null ? '–' : r.age_mae.toFixed(1)} years`,
          `person recall: ${pct(r.person_recall)} (${r.judges_on_raw.persons} persons on raw) · pose PCK: ${pct(r.pose_pck)}`,
        ].join('\n'),
      );
    }
    return 0;
  },
};
