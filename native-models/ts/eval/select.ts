// Model selection by a validation trade-off measured with fresh probes (never the test split and
// never in-loop losses, which go stale: f_A can fool its own f_T/f_B while attackers still win).
// The same rule for every method compared:
//   among candidates whose validation action top-1 is within `maxActionDrop` of raw, take the one
//   with the lowest validation privacy cMAP; if none qualifies, take the best action top-1.
import fs from 'node:fs';
import path from 'node:path';

import { CHECKPOINT_FILE, readCheckpointMeta } from '../checkpoint.js';
import { ClipDataset } from '../dataset.js';
import { evaluate, type EvalOptions, type EvalResult, type ProbeBudget } from './evaluate.js';

export interface Candidate {
  checkpoint: string;
  val: EvalResult;
}

export interface Selection {
  chosen: string;
  candidates: { checkpoint: string; action_top1: number; privacy_cmap: number }[];
  rawVal: { action_top1: number; privacy_cmap: number };
  rule: string;
  /** Reasons this selection cannot be trusted (e.g. probes too weak to judge action). */
  warnings: string[];
}

/**
 * The rule compares each candidate's action top-1 to raw's. When the selection probes cannot
 * recognise actions even on raw clips, that comparison is noise and the rule picks by privacy alone.
 */
export function selectionWarnings(rawValAction: number, numActions: number): string[] {
  const chance = 1 / numActions;
  return rawValAction < 2 * chance
    ? [
        `the selection's action probe reaches only ${(100 * rawValAction).toFixed(1)}% top-1 on raw validation ` +
          `clips (chance ${(100 * chance).toFixed(1)}%): its action comparison is noise; raise the selection budget`,
      ]
    : [];
}

/** Every snapshot of a run, oldest first, plus the final checkpoint unless it is the last snapshot. */
export function runCandidates(runDir: string): string[] {
  const snaps = path.join(runDir, 'snapshots');
  const names = fs.existsSync(snaps) ? fs.readdirSync(snaps).filter((f) => f.endsWith('.pt')) : [];
  const final = path.join(runDir, CHECKPOINT_FILE);
  // A run that ends on a snapshot step saves the same weights twice; probing them twice costs minutes.
  const finalStep = readCheckpointMeta(final).state.minimaxStep;
  const sameAsFinal = `step-${String(finalStep).padStart(6, '0')}.pt`;
  return [...names.sort().map((f) => path.join(snaps, f)), ...(names.includes(sameAsFinal) ? [] : [final])];
}

export function pick(
  candidates: { checkpoint: string; action_top1: number; privacy_cmap: number }[],
  rawAction: number,
  maxActionDrop: number,
): string {
  const ok = candidates.filter((c) => c.action_top1 >= rawAction - maxActionDrop);
  if (ok.length > 0) return ok.reduce((a, b) => (b.privacy_cmap < a.privacy_cmap ? b : a)).checkpoint;
  return candidates.reduce((a, b) => (b.action_top1 > a.action_top1 ? b : a)).checkpoint;
}

export async function selectCheckpoint(opts: {
  data: string;
  candidates: string[];
  budget: Partial<ProbeBudget>;
  maxActionDrop?: number;
  rawVal?: { action_top1: number; privacy_cmap: number };
  evalOptions?: Partial<EvalOptions>;
  onProgress?: (m: string) => void;
}): Promise<Selection> {
  const drop = opts.maxActionDrop ?? 0.03;
  const base = {
    data: opts.data,
    protocol: 'known' as const,
    testSplit: 'val' as const,
    budget: opts.budget,
    ...opts.evalOptions,
  };
  const rawVal = opts.rawVal ?? (await evaluate({ ...base, anonymizer: 'raw' }));
  const scored = [];
  for (const checkpoint of opts.candidates) {
    opts.onProgress?.(`selection: probing ${path.basename(checkpoint)}`);
    const r = await evaluate({ ...base, anonymizer: checkpoint });
    scored.push({ checkpoint, action_top1: r.action_top1, privacy_cmap: r.privacy_cmap });
  }
  const warnings = selectionWarnings(rawVal.action_top1, ClipDataset.open(opts.data).manifest.actions.length);
  for (const w of warnings) opts.onProgress?.(`selection warning: ${w}`);
  return {
    chosen: pick(scored, rawVal.action_top1, drop),
    candidates: scored,
    rawVal: { action_top1: rawVal.action_top1, privacy_cmap: rawVal.privacy_cmap },
    rule: `lowest validation privacy cMAP among checkpoints with validation action top-1 ≥ raw − ${(100 * drop).toFixed(0)} points (else best action)`,
    warnings,
  };
}
