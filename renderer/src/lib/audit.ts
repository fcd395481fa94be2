// The privacy audit in plain words: what the verdicts of a report mean for the people in the clip.
// An inconclusive result is said to be one, never shown as good news.
import type { AuditAttackerView, VideoAuditReportView } from '../../../electron/contract';

export type Tone = 'bad' | 'warn' | 'good' | 'unknown';

export interface Reading {
  tone: Tone;
  /** One line: the answer. */
  headline: string;
  /** What it rests on. */
  detail: string;
}

export const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? '–' : `${Math.round(100 * v)}%`;

/** "by …": what lets an attacker tell people apart. */
const BY: Record<AuditAttackerView['id'], string> = {
  'appearance-reid': 'their whole-body appearance, matched to raw pictures of them',
  'cnn-raw': 'their shapes and shades, by a classifier trained on raw pictures of them',
  'colour-raw': 'their clothing colours, by a classifier trained on raw pictures of them',
  linkage: 'their whole-body appearance within the anonymized footage alone',
  'cnn-anonymized': 'a classifier trained on the anonymized footage alone',
  'colour-anonymized': 'their clothing colours in the anonymized footage alone',
};

/** Short names for the details table. */
export const ATTACKER_NAME: Record<AuditAttackerView['id'], string> = {
  'appearance-reid': 'Appearance match',
  'cnn-raw': 'Classifier on grey shapes',
  'colour-raw': 'Clothing-colour classifier',
  linkage: 'Appearance linkage',
  'cnn-anonymized': 'Classifier',
  'colour-anonymized': 'Clothing-colour classifier',
};

export const people = (n: number): string => `${n} ${n === 1 ? 'person' : 'people'}`;

/** Can people still be told apart? */
export function identityReading(r: VideoAuditReportView): Reading {
  const id = r.identity;
  if (r.verdict.identity === 'inconclusive' || id.chance === null || id.worst === null) {
    return {
      tone: 'unknown',
      headline: 'Inconclusive: too few people',
      detail: `${r.tracks.usable === 0 ? 'Nobody' : `Only ${people(r.tracks.usable)}`} could be followed long enough on the raw video (at least 2 people are needed), so nobody could be tested for identity. This is not evidence that people cannot be recognised.`,
    };
  }
  const best = [...id.attackers].sort((a, b) => b.anonymized - a.anonymized)[0]!;
  const shape = Math.max(id.silhouetteWorstWithRaw ?? 0, id.silhouetteWorstAnonymizedOnly ?? 0);
  const figures = `The best attacker picks the right person ${pct(id.worst)} of the time; guessing scores ${pct(id.chance)}, grey silhouettes ${pct(shape)}.`;
  if (r.verdict.identity === 'shape-only')
    return {
      tone: 'good',
      headline: 'People can be told apart no more than from grey silhouettes',
      detail: figures,
    };
  return {
    tone: r.verdict.identity === 'identifiable' ? 'bad' : 'warn',
    headline: `People can still be told apart by ${BY[best.id]}`,
    detail: figures,
  };
}

/** Is the video still useful: are people found and their poses kept? */
export function utilityReading(r: VideoAuditReportView): Reading {
  const u = r.utility;
  if (r.verdict.utility === 'inconclusive' || u.personRecall === null)
    return {
      tone: 'unknown',
      headline: 'Inconclusive: nobody found on the raw video',
      detail: 'A person detector found nobody on the raw frames, so whether people stay visible could not be judged.',
    };
  const poses = u.poseAgreement === null ? 'poses not judged' : `poses kept: ${pct(u.poseAgreement)}`;
  return r.verdict.utility === 'people-kept'
    ? {
        tone: 'good',
        headline: `People still found: ${pct(u.personRecall)}; ${poses}`,
        detail: `Of ${people(u.personsOnRaw)} seen on the raw frames, a person detector finds ${pct(u.personRecall)} on the anonymized ones.`,
      }
    : {
        tone: 'bad',
        headline: `People lost: only ${pct(u.personRecall)} still found; ${poses}`,
        detail: 'Actions may no longer be recognisable in the anonymized video.',
      };
}

/** What was judged, in one sentence. */
export function judgedText(r: VideoAuditReportView): string {
  const w = r.window;
  const span =
    w.frames === 1
      ? 'one still frame'
      : `${w.startS.toFixed(1)}–${w.endS.toFixed(1)} s (${w.frames} frames at ${w.fps} fps)`;
  const followed =
    r.tracks.total === 0
      ? 'nobody followed'
      : `${people(r.tracks.total)} followed, ${r.tracks.usable} long enough to test identity (${r.tracks.galleryCrops} gallery and ${r.tracks.probeCrops} probe pictures)`;
  return `${span} at ${w.width}×${w.height}; ${followed}.`;
}

/** People found and poses kept, in one sentence. */
export function utilityText(r: VideoAuditReportView): string {
  const u = r.utility;
  if (u.personsOnRaw === 0) return 'nobody was found on the raw frames.';
  const poses =
    u.poseAgreement === null
      ? 'poses not judged (no confident body keypoint)'
      : `pose agreement ${pct(u.poseAgreement)} of ${u.keypointsOnRaw} body keypoints`;
  return `${pct(u.personRecall)} of ${people(u.personsOnRaw)} seen on the raw frames found again; ${poses}.`;
}

/** Faces in one sentence. */
export function facesText(r: VideoAuditReportView): string {
  const f = r.faces;
  if (f.framesJudged === 0) return 'Faces were not judged.';
  const found = `${f.onRaw} ${f.onRaw === 1 ? 'face' : 'faces'} on ${f.framesJudged} raw ${f.framesJudged === 1 ? 'frame' : 'frames'}, ${f.onAnonymized} on the anonymized ones`;
  if (f.rank1 === null) return `${found}; face re-identification not tested (no face on the raw frames).`;
  const judges = f.reid.map((x) => `${x.judge} ${pct(x.rank1)} (raw vs raw ${pct(x.rank1RawVsRaw)})`).join(', ');
  return `${found}; faces re-identified: ${judges}.`;
}
