import path from 'node:path';

import { resolveModelPath } from '../../../native-models/ts/models.js';
import { finetune, readTags } from '../../core/training/finetune.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { formatDuration, ProgressReporter } from '../progress-bar.js';
import { withCore } from './library.js';
import { MAX_WORKING_SIZE, MIN_WORKING_SIZE } from '../../core/media/working-size.js';

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'adapt the anonymizer to a room from its unlabeled footage',
  usage: `spact finetune --footage FILES|DIR… | --room NAME|ID  --base RUN_DIR|default --out RUN_DIR
               [--recipe room|synthroom] [--size auto|N] [--steps N] [--resume] [--data-dir DIR] [--json]
               synthroom only: [--clips N] [--labels FILE] [--teacher anonymized|raw]

No labels of any kind are needed. The default recipe, "room", is for real cameras: independent
pretrained judges label the raw footage once (people, their body keypoints, who is who over time;
cached for later fine-tunes of the same footage); the anonymizer is then trained so that a student
of those judges still finds every person and pose on its output, while an identity model that
tries to link each person across time (the same person at another time vs other people) fails.
It works at the room's working size (--size, default auto: measured from how tall people are).
The last fifth of the longest footage file (3–10 s) is held out: every snapshot is audited on it
(identity attackers, person recall, pose agreement) and the best becomes the run's model
(RUN_DIR/selected.pt; the audit before and after is in RUN_DIR/selection.json).
"synthroom" is the recipe of SynthRoom-style rooms: sampled clips, the SSL budget f_B on the
room's frames, utility by distillation from the frozen base action model; --teacher sets what the
teacher sees ("anonymized" by the base anonymizer, default, or "raw"), --labels adds operator-tagged
actions: {"tags": [{"file": "cam1.mp4", "start": 12, "end": 14, "action": "fall"}]}.
With --room, the room's library clips are the footage (and the room's working size the default).
--json prints {run, checkpoint, steps, final, workingSize, selection, phaseSeconds, wallSeconds}
(seconds by phase: prepare, sample, label, load, initA, initTB, minimax, eval, checkpoint, select;
the run folder's timings.json keeps every call's split).`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      footage: { type: 'string', multiple: true },
      room: { type: 'string' },
      base: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      clips: { type: 'string' },
      labels: { type: 'string' },
      teacher: { type: 'string' },
      recipe: { type: 'string' },
      size: { type: 'string' },
      resume: { type: 'boolean' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.out) throw new UsageError('--out RUN_DIR is required');
    if (!values.resume && !values.base) throw new UsageError('--base RUN_DIR|default is required');
    if (!values.resume && !values.footage?.length && !values.room)
      throw new UsageError('give --footage FILES|DIR or --room');
    const recipe = values.recipe;
    if (recipe !== undefined && recipe !== 'room' && recipe !== 'synthroom')
      throw new UsageError(`--recipe must be room or synthroom, got "${recipe}"`);
    if (recipe !== undefined && values.resume) throw new UsageError('--recipe cannot change on --resume');
    const synthOnly = ['clips', 'labels', 'teacher'].filter((k) => values[k as 'clips'] !== undefined);
    if ((recipe ?? 'room') === 'room' && !values.resume && synthOnly.length)
      throw new UsageError(`--${synthOnly[0]} belongs to --recipe synthroom`);
    let size: number | 'auto' | undefined;
    if (values.size !== undefined) {
      size = values.size === 'auto' ? 'auto' : Number(values.size);
      if (size !== 'auto' && (!Number.isInteger(size) || size < MIN_WORKING_SIZE || size > MAX_WORKING_SIZE))
        throw new UsageError(`--size must be auto or an integer ${MIN_WORKING_SIZE}–${MAX_WORKING_SIZE}`);
    }
    const teacher = values.teacher;
    if (teacher !== undefined && teacher !== 'anonymized' && teacher !== 'raw')
      throw new UsageError(`--teacher must be anonymized or raw, got "${teacher}"`);
    if (teacher !== undefined && values.resume)
      throw new UsageError('--teacher cannot change on --resume (the run keeps its own teacher)');
    const int = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
      return n;
    };
    let footage = values.footage ?? [];
    if (values.room) {
      const found = await withCore(values['data-dir'], async (core) => {
        const room = core.library.resolveRoom(values.room!);
        // The size anonymization uses for this room (measured people, or the room's number).
        const resolved = room.workingSize !== 'auto' || room.personHeight ? room.resolvedWorkingSize?.max : undefined;
        const workingSize: number | 'auto' = resolved ?? 'auto';
        return { files: core.library.clips({ roomId: room.id }).map((c) => c.path), workingSize };
      });
      footage = found.files;
      if (footage.length === 0) throw new UsageError(`room ${values.room} has no clips`);
      size ??= found.workingSize;
    }
    const bar = new ProgressReporter();
    const steps = int('steps', values.steps);
    const clips = int('clips', values.clips);
    const result = await finetune({
      footage,
      base: values.base ? resolveModelPath(values.base) : '',
      out: path.resolve(values.out),
      ...(steps ? { steps } : {}),
      ...(clips ? { clips } : {}),
      ...(values.labels ? { tags: readTags(values.labels) } : {}),
      ...(teacher ? { teacher } : {}),
      ...(recipe ? { recipe } : {}),
      ...(size !== undefined ? { size } : {}),
      resume: Boolean(values.resume),
      onStatus: (m) => progress(m),
      onWarning: (m) => progress(`warning: ${m}`),
      onProgress: (p) => {
        const eta = p.etaSeconds === null ? '' : ` · ETA ${formatDuration(p.etaSeconds)}`;
        bar.update(
          p.phase === 'minimax' ? p.minimaxStep / Math.max(1, p.minimaxSteps) : null,
          `${p.phase === 'minimax' ? `fine-tune ${p.minimaxStep}/${p.minimaxSteps}` : `${p.phase} step ${p.step}`} · L_B ${p.stats.loss_B?.toFixed(3) ?? '–'} · utility ${p.stats.loss_T?.toFixed(3) ?? '–'}${eta}`,
        );
      },
    });
    bar.done();
    if (values.json) {
      const { config: _c, ...rest } = result;
      printJson(rest);
    } else progress(`fine-tuned in ${result.steps} steps → ${result.checkpoint}`);
    return result.stopReason === 'cancelled' ? 130 : 0;
  },
};
