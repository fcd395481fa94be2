// What an export would contain before it is started: for each clip the output it would take and
// the model that made it. An export never mixes models silently: when its clips were anonymized
// by different models the caller is told (kind 'conflict', details.reason 'mixed-models') and
// chooses — anonymize them again with one model first, or export anyway with each clip's model
// named in the manifest.
import type { ExportPlanView } from '../../contract.js';
import type { AnonymizeService } from '../anonymize/anonymize-service.js';
import { SpactError } from '../errors.js';
import type { LibraryService } from '../library/library-service.js';

export interface PlanItem {
  clipId: number;
  /** The model of the output the export would take (null: the clip has no anonymized output). */
  modelId: number | null;
}

export interface ModelMix {
  /** The models of the outputs, each with how many clips it made, most clips first. */
  models: { id: number; clips: number }[];
  /** More than one model made the outputs. */
  mixed: boolean;
  /** Clips without an anonymized output (the export would stop at them). */
  missing: number[];
}

/** Which models made an export's outputs, and whether they are more than one. */
export function modelMix(items: PlanItem[]): ModelMix {
  const counts = new Map<number, number>();
  const missing: number[] = [];
  for (const it of items) {
    if (it.modelId === null) missing.push(it.clipId);
    else counts.set(it.modelId, (counts.get(it.modelId) ?? 0) + 1);
  }
  const models = [...counts].map(([id, clips]) => ({ id, clips })).sort((a, b) => b.clips - a.clips || a.id - b.id);
  return { models, mixed: models.length > 1, missing };
}

/** The refusal of a mixed export, with the models the caller can name to the user. */
export function mixedModelsError(plan: ExportPlanView): SpactError {
  const list = plan.models.map((m) => `${m.name} (${m.clips} clip${m.clips === 1 ? '' : 's'})`).join(', ');
  return new SpactError(
    'conflict',
    `these clips were anonymized by ${plan.models.length} different models: ${list}; anonymize them again with one model, or export anyway with each clip's model named`,
    { reason: 'mixed-models', models: plan.models },
  );
}

/** The export plan of clips (or of a room's clips): per clip its newest output's model. */
export function exportPlan(
  library: LibraryService,
  anonymize: AnonymizeService,
  what: { clipIds?: number[]; roomId?: number },
): ExportPlanView {
  const clips =
    what.clipIds?.map((id) => library.clip(id)) ??
    (what.roomId !== undefined ? library.clips({ roomId: what.roomId }) : []);
  const roomId = what.roomId ?? null;
  const activeModelId = roomId !== null ? library.room(roomId).activeModelId : null;
  const items = clips.map((c) => {
    const o = anonymize.latestOutput(c.id);
    return { clipId: c.id, name: c.name, outputId: o?.id ?? null, modelId: o?.modelId ?? null };
  });
  const mix = modelMix(items);
  const names = new Map(mix.models.map((m) => [m.id, library.model(m.id).name]));
  return {
    items: items.map((it) => ({ ...it, modelName: it.modelId === null ? null : (names.get(it.modelId) ?? null) })),
    models: mix.models.map((m) => ({ ...m, name: names.get(m.id) ?? `model ${m.id}` })),
    mixed: mix.mixed,
    missing: mix.missing,
    activeModelId,
  };
}
