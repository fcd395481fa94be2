import fs from 'node:fs';
import path from 'node:path';

import { Anonymizer } from '../../../native-models/ts/anonymizer.js';
import { resolveModelPath } from '../../../native-models/ts/models.js';
import { anonymizeFile, DEFAULT_SETTINGS, type AnonymizeSettings } from '../../core/anonymize/anonymize-service.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { withCore } from './library.js';

export const anonymizeCommand: Command = {
  name: 'anonymize',
  summary: 'anonymize videos with a trained f_A (decode → f_A → H.264 MP4)',
  usage: `spact anonymize IN... -o OUT_DIR|OUT.mp4 --model RUN_DIR|default [--size 112] [--keep-audio] [--json]
spact anonymize --clips ID[,ID…] --model RUN_DIR|default|MODEL_ID [--size 112] [--data-dir DIR] [--json]

Streams frames (bounded memory) at a working size whose short side is --size, through f_A in
batches, into an H.264/yuv420p MP4 at the source frame rate (variable-rate input is resampled to
its average rate). Audio is dropped unless --keep-audio (speech identifies people). Output is
written to a temporary file and renamed. With --clips, library clips are anonymized and the
outputs recorded (sha256, model) in the library.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        out: { type: 'string', short: 'o' },
        model: { type: 'string' },
        size: { type: 'string' },
        batch: { type: 'string' },
        'keep-audio': { type: 'boolean' },
        clips: { type: 'string' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (!values.model) throw new UsageError('--model RUN_DIR|default is required');
    const settings: AnonymizeSettings = {
      ...DEFAULT_SETTINGS,
      ...(values.size ? { size: Number(values.size) } : {}),
      ...(values.batch ? { batch: Number(values.batch) } : {}),
      keepAudio: Boolean(values['keep-audio']),
    };
    if (!Number.isInteger(settings.size) || settings.size < 8 || settings.size > 2160)
      throw new UsageError('--size must be an integer 8–2160');
    if (!Number.isInteger(settings.batch) || settings.batch < 1 || settings.batch > 512)
      throw new UsageError('--batch must be an integer 1–512');

    if (values.clips) {
      const ids = values.clips.split(',').map((s) => Number(s.trim()));
      if (ids.some((i) => !Number.isInteger(i) || i < 1))
        throw new UsageError('--clips takes clip ids, e.g. --clips 3,4');
      return withCore(values['data-dir'], async (core) => {
        const model = core.resolveModel(values.model!);
        const results = [];
        for (const id of ids) {
          const out = await core.anonymize.anonymizeClip(id, model.id, settings, {
            onProgress: (f) => process.stderr.write(`\rclip ${id}: ${(100 * f).toFixed(0)}%`),
          });
          process.stderr.write('\n');
          results.push({
            clip: id,
            output: out.path,
            outputId: out.id,
            frames: out.frames,
            sha256: out.sha256,
            model: model.id,
          });
        }
        if (values.json) printJson(results);
        return 0;
      });
    }

    if (positionals.length === 0) throw new UsageError('give input files (or --clips IDS)');
    if (!values.out) throw new UsageError('-o OUT_DIR|OUT.mp4 is required');
    const toFile = values.out.toLowerCase().endsWith('.mp4');
    if (toFile && positionals.length > 1) throw new UsageError('several inputs need -o OUT_DIR, not one .mp4 file');
    const modelPath = resolveModelPath(values.model);
    const anonymizer = await Anonymizer.load(modelPath);
    const results = [];
    for (const input of positionals) {
      const output = toFile
        ? path.resolve(values.out)
        : path.join(path.resolve(values.out), `${path.parse(input).name}.anon.mp4`);
      if (!toFile) fs.mkdirSync(path.resolve(values.out), { recursive: true });
      const r = await anonymizeFile(anonymizer, input, output, settings, {
        onProgress: (done, total) =>
          process.stderr.write(`\r${path.basename(input)}: ${done}${total ? `/${total}` : ''} frames`),
      });
      process.stderr.write('\n');
      results.push({ ...r, model: anonymizer.sha256 });
      if (!values.json) progress(`${input} → ${output}: ${r.frames} frames at ${r.fps.toFixed(0)} frames/s`);
    }
    if (values.json) printJson(results);
    return 0;
  },
};
