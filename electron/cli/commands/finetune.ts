import path from 'node:path';

import { resolveModelPath } from '../../../native-models/ts/models.js';
import { finetune, readTags } from '../../core/training/finetune.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { formatDuration, ProgressReporter } from '../progress-bar.js';
import { withCore } from './library.js';

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'adapt the anonymizer to a room from its unlabeled footage',
  usage: `spact finetune --footage FILES|DIR… | --room NAME|ID  --base RUN_DIR|default --out RUN_DIR
               [--steps N] [--clips N] [--labels FILE] [--teacher anonymized|raw] [--resume]
               [--data-dir DIR] [--json]

Samples clips from the room's footage in bounded memory, then fine-tunes the base model: f_B is
updated on the room's own frames with the SSL loss, f_A maximizes it, and utility is kept by
distillation from the frozen base action model — no privacy labels and no action labels are
needed; the action model keeps learning the teacher's soft labels on the anonymized clips.
--teacher sets what the teacher sees: clips "anonymized" by the frozen base anonymizer (default, the
input the base action model was trained on), or "raw" clips (which pull the anonymizer back
towards its input: less privacy in bench:adapt). --labels adds operator-tagged actions as a
supervised term: {"tags": [{"file": "cam1.mp4", "start": 12, "end": 14, "action": "fall"}]}.
With --room, the room's library clips are the footage. --json prints {run, checkpoint, steps, final}.`,
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
      resume: { type: 'boolean' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.out) throw new UsageError('--out RUN_DIR is required');
    if (!values.resume && !values.base) throw new UsageError('--base RUN_DIR|default is required');
    if (!values.resume && !values.footage?.length && !values.room)
      throw new UsageError('give --footage FILES|DIR or --room');
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
      footage = await withCore(values['data-dir'], async (core) => {
        const room = core.library.resolveRoom(values.room!);
        return core.library.clips({ roomId: room.id }).map((c) => c.path);
      });
      if (footage.length === 0) throw new UsageError(`room ${values.room} has no clips`);
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
      resume: Boolean(values.resume),
      onStatus: (m) => progress(m),
      onWarning: (m) => progress(`warning: ${m}`),
      onProgress: (p) => {
        const eta = p.etaSeconds === null ? '' : ` · ETA ${formatDuration(p.etaSeconds)}`;
        bar.update(
          p.phase === 'minimax' ? p.minimaxStep / Math.max(1, p.minimaxSteps) : null,
          `${p.phase === 'minimax' ? `fine-tune ${p.minimaxStep}/${p.minimaxSteps}` : `${p.phase} step ${p.step}`} · L_B ${p.stats.loss_B?.toFixed(3) ?? '–'} · distill ${p.stats.loss_T?.toFixed(3) ?? '–'}${eta}`,
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
