// Fine-tune runs in plain words: the recipes, what a run is doing, its curves, and — for room runs —
// the privacy audit before and after on the room's held-out footage (the base model against the
// checkpoint chosen there). An identity that could not be compared is said to be so, never shown
// as a gain.
import type { FinetuneRecipe, RunAuditSummary, RunSelectionView } from '../../../electron/contract';
import { pct } from './audit';

export const RECIPES: Record<FinetuneRecipe, { label: string; hint: string; steps: number }> = {
  room: {
    label: 'Real camera — default',
    hint: "Pretrained judges find the room's people and poses; the anonymizer learns to keep them while hiding who is who, at the room's working size, and the model is chosen by the privacy audit on footage held out of training.",
    steps: 300,
  },
  synthroom: {
    label: 'Synthetic room',
    hint: 'For SynthRoom-style synthetic rooms: the privacy branch learns the room, the anonymizer learns to defeat it, and the base action model keeps utility by distillation.',
    steps: 200,
  },
};

const PHASES: Record<string, string> = {
  measuring: 'measuring how tall people are',
  labelling: 'labelling the footage',
  sampling: 'sampling clips from the footage',
  resuming: 'resuming',
  'init-A': 'learning to copy frames',
  minimax: 'training the anonymizer',
  selecting: 'choosing the model on held-out footage',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** What a run is doing, in words. */
export function phaseText(recipe: FinetuneRecipe, phase: string): string {
  if (phase === 'init-TB')
    return recipe === 'room' ? "learning the room's people" : 'the privacy branch learns the room';
  return PHASES[phase] ?? phase;
}

/** The curves' names: what loss_T, loss_B and l1 are in each recipe. */
export const CURVE_LABELS: Record<FinetuneRecipe, { loss_T: string; loss_B: string; l1: string }> = {
  room: { loss_T: 'utility (student)', loss_B: 'identity budget', l1: 'change from raw' },
  synthroom: { loss_T: 'L_T (distillation)', loss_B: 'L_B (SSL budget)', l1: 'L1 to input' },
};

const known = (v: number | null): v is number => v !== null;

/** How often the best identity attacker picks the right person (null when identity was not compared). */
export function identityOf(a: RunAuditSummary): number | null {
  if (a.chance === null) return null;
  const v = [a.worstWithRaw, a.worstAnonymizedOnly].filter(known);
  return v.length ? Math.max(...v) : null;
}

/** What grey silhouettes alone give away (the best attacker on them). */
export function silhouetteOf(a: RunAuditSummary): number | null {
  const v = [a.silhouetteWorstWithRaw, a.silhouetteWorstAnonymizedOnly].filter(known);
  return v.length ? Math.max(...v) : null;
}

/** The candidate chosen on the held-out footage. */
export function chosenOf(s: RunSelectionView): RunSelectionView['candidates'][number] | undefined {
  return s.candidates.find((c) => c.chosen);
}

const before = (s: RunSelectionView, v: (a: RunAuditSummary) => number | null) =>
  s.base ? ` (before ${pct(v(s.base))})` : '';

/** The audit before and after in one sentence, identity first. */
export function beforeAfterText(s: RunSelectionView): string {
  const after = chosenOf(s)?.audit;
  if (!after) return 'No checkpoint could be judged on the held-out footage.';
  const id = identityOf(after);
  const identity =
    id === null
      ? `identity could not be compared (${after.tracks < 2 ? `${after.tracks === 1 ? 'only 1 person' : 'nobody'} followed long enough on the held-out footage; at least 2 are needed` : 'no attacker could be run'})`
      : `the best attacker identifies people ${pct(id)} of the time (${s.base ? `before: ${pct(identityOf(s.base))}; ` : ''}guessing ${pct(after.chance)})`;
  const people =
    after.personRecall === null
      ? 'people still found: not judged (nobody on the raw frames)'
      : `people still found: ${pct(after.personRecall)}${before(s, (a) => a.personRecall)}`;
  const poses =
    after.poseAgreement === null
      ? 'poses not judged'
      : `poses kept: ${pct(after.poseAgreement)}${before(s, (a) => a.poseAgreement)}`;
  return `After fine-tuning, ${identity}; ${people}; ${poses}.`;
}

/** Did fine-tuning help on the held-out footage? (for the tone of the sentence above) */
export function outcomeTone(s: RunSelectionView): 'good' | 'warn' | 'unknown' {
  const after = chosenOf(s)?.audit;
  if (!after || identityOf(after) === null || !s.base || identityOf(s.base) === null) return 'unknown';
  return identityOf(after)! < identityOf(s.base)! && s.warnings.length === 0 ? 'good' : 'warn';
}

export interface ComparisonRow {
  label: string;
  before: string;
  after: string;
}

/** Before and after, figure by figure. */
export function comparisonRows(s: RunSelectionView): ComparisonRow[] {
  const after = chosenOf(s)?.audit;
  const row = (label: string, v: (a: RunAuditSummary) => number | null): ComparisonRow => ({
    label,
    before: s.base ? pct(v(s.base)) : '–',
    after: after ? pct(v(after)) : '–',
  });
  return [
    row('Best attacker holding raw pictures of the people', (a) => a.worstWithRaw),
    row('Best attacker holding only the anonymized footage', (a) => a.worstAnonymizedOnly),
    row('Guessing', (a) => a.chance),
    row('Grey silhouettes (shape and place only)', silhouetteOf),
    row('People still found', (a) => a.personRecall),
    row('Poses kept', (a) => a.poseAgreement),
  ];
}

/** What was judged, in one sentence. */
export function partText(s: RunSelectionView): string {
  const after = chosenOf(s);
  const people = after ? `; ${after.audit.tracks} ${after.audit.tracks === 1 ? 'person' : 'people'} followed` : '';
  const chosen = after ? ` Chosen: ${after.name} (step ${after.minimaxStep}) of ${s.candidates.length} judged.` : '';
  return `Held-out footage: ${s.part.name}, ${s.part.startS.toFixed(1)}–${s.part.endS.toFixed(1)} s, never seen in training, at ${s.workingSize} px${people}.${chosen}`;
}
