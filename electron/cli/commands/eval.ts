import { BASELINES } from '../../../native-models/ts/eval/baselines.js';
import { evaluate, PROTOCOLS, type Protocol } from '../../../native-models/ts/eval/evaluate.js';
import { resolveModelPath } from '../../../native-models/ts/models.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: "evaluate an anonymizer with the paper's protocol (fresh action model and privacy attackers)",
  usage: `spact eval --data DIR --anonymizer RUN_DIR|default|${BASELINES.join('|')}
           [--protocol ${PROTOCOLS.join('|')}] [--epochs N] [--seed N] [--json]

Freezes the anonymizer, anonymizes the data, trains fresh target models from scratch on the
anonymized training clips — an action model f'_T (3D CNN) and two privacy attackers f'_B (a 2D CNN
and a colour-histogram MLP) — and tests them on anonymized test clips. Privacy is the worst case
over the attackers. DIR is a SynthRoom folder (spact synth) or one dataset folder.
  --protocol   known (person attributes, default), novel-privacy (room attributes),
               novel-action (target action model on the novel action set)
  --epochs     training epochs of each target model (same for every anonymizer compared; default 8)
  --json       print {anonymizer, protocol, action_top1, privacy_cmap, privacy_f1, flicker,
               per_attribute_ap, attackers, …}`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      anonymizer: { type: 'string' },
      protocol: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      device: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.data) throw new UsageError('--data DIR is required');
    if (!values.anonymizer) throw new UsageError('--anonymizer is required');
    const protocol = (values.protocol ?? 'known') as Protocol;
    if (!PROTOCOLS.includes(protocol)) throw new UsageError(`--protocol must be one of ${PROTOCOLS.join(', ')}`);
    const epochs = values.epochs === undefined ? undefined : Number(values.epochs);
    if (epochs !== undefined && (!Number.isInteger(epochs) || epochs < 1))
      throw new UsageError('--epochs must be a positive integer');
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    const anonymizer = (BASELINES as readonly string[]).includes(values.anonymizer)
      ? values.anonymizer
      : resolveModelPath(values.anonymizer);
    const result = await evaluate({
      data: values.data,
      anonymizer,
      protocol,
      seed,
      ...(values.device ? { device: values.device } : {}),
      ...(epochs ? { budget: { actionEpochs: epochs, attackerEpochs: epochs } } : {}),
      onProgress: (m) => progress(m),
    });
    if (values.json) printJson({ ...result, anonymizer: values.anonymizer });
    else {
      progress(
        `${values.anonymizer} (${protocol}): action top-1 ${(100 * result.action_top1).toFixed(1)}% · ` +
          `privacy cMAP ${(100 * result.privacy_cmap).toFixed(1)}% (worst: ${result.worst_attacker}) · F1 ${result.privacy_f1.toFixed(3)} · flicker ${result.flicker.toFixed(2)}`,
      );
    }
    return 0;
  },
};
