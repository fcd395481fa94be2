import path from 'node:path';

import { Anonymizer, MEMORY_BUDGET_MIB } from '../../../native-models/ts/anonymizer.js';
import { resolveCheckpointPath } from '../../../native-models/ts/checkpoint.js';
import { resolveModelPath } from '../../../native-models/ts/models.js';
import { anonymizeFile, DEFAULT_SETTINGS, type AnonymizeSettings } from '../../core/anonymize/anonymize-service.js';
import { checkDestinations } from '../../core/destinations.js';
import { SpactError } from '../../core/errors.js';
import { probeVideo } from '../../core/media/video.js';
import {
  AUTO_FALLBACK_WORKING_SIZE,
  AUTO_MAX_WORKING_SIZE,
  AUTO_TARGET_PERSON_PX,
  estimatePersonHeightFraction,
  parseOutputSize,
  parseWorkingSize,
  WORKING_SIZE_RANGE,
} from '../../core/media/working-size.js';
import { Judges } from '../../core/privacy-audit/judges.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { withCore } from './library.js';

export const anonymizeCommand: Command = {
  name: 'anonymize',
  summary: 'anonymize videos with a trained f_A (decode → f_A → H.264 MP4)',
  usage: `spact anonymize IN... -o OUT_DIR|OUT.mp4 [--force] --model RUN_DIR|default [--size auto|N] [--output-size working|source] [--keep-audio] [--memory-budget MiB] [--json]
spact anonymize --clips ID[,ID…] --model RUN_DIR|default|MODEL_ID [--size auto|N] [--output-size working|source] [--memory-budget MiB] [--data-dir DIR] [--json]

Streams frames (bounded memory at any size: large frames are tiled through f_A) at a working size
whose short side is --size, into an H.264/yuv420p MP4 at the source frame rate (variable-rate input
is resampled to its average rate).

  --size auto|N            working size, the short side in pixels, ${WORKING_SIZE_RANGE}. auto (the default
                           for files) measures how tall people are in the inputs (a person detector
                           on ~8 frames, a few seconds) and picks the size at which 80% of them are
                           at least ${AUTO_TARGET_PERSON_PX} px tall: never above the source's short side, at most
                           ${AUTO_MAX_WORKING_SIZE}; with nobody found, the source's short side up to ${AUTO_FALLBACK_WORKING_SIZE}. With
                           --clips the default is each clip's room setting (spact rooms set), or
                           the app setting for clips without a room.
  --output-size working|source
                           encode at the working size (default) or scale the anonymized frames back up to
                           the source's size (f_A still works at the working size).
  --keep-audio             keep the audio track (dropped by default: speech identifies people).
  --batch N                frames per decoded batch, at most (1–512, default 16; fewer for large frames).
  --memory-budget MiB      memory the anonymization may use (${MEMORY_BUDGET_MIB.min}–${MEMORY_BUDGET_MIB.max}, default ${MEMORY_BUDGET_MIB.default}; with
                           --clips the app's setting): what 1 GiB for the app and frames leaves bounds
                           one f_A call, so a smaller budget means smaller calls and tiles.
  --force                  replace outputs that already exist (without it they are refused). An output
                           is never one of the inputs, whatever the path or link that names it.

-o is resolved against the current folder; OUT_DIR/NAME.anon.mp4 is written per input. Outputs are
checked before anything starts: not on a system file system (/proc, /sys, /dev), creatable and
writable. Output is written to a temporary file and renamed. With --clips, library clips are
anonymized and the outputs recorded (sha256, model, resolved working size) in the library.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        out: { type: 'string', short: 'o' },
        model: { type: 'string' },
        size: { type: 'string' },
        'output-size': { type: 'string' },
        batch: { type: 'string' },
        'memory-budget': { type: 'string' },
        'keep-audio': { type: 'boolean' },
        force: { type: 'boolean' },
        clips: { type: 'string' },
        'data-dir': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (!values.model) throw new UsageError('--model RUN_DIR|default is required');
    const usage = <T>(parse: () => T): T => {
      try {
        return parse();
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    };
    const size = values.size === undefined ? undefined : usage(() => parseWorkingSize(values.size, '--size'));
    const outputSize =
      values['output-size'] === undefined
        ? undefined
        : usage(() => parseOutputSize(values['output-size'], '--output-size'));
    const batch = values.batch === undefined ? DEFAULT_SETTINGS.batch : Number(values.batch);
    if (!Number.isInteger(batch) || batch < 1 || batch > 512)
      throw new UsageError(`--batch must be an integer 1–512, got ${JSON.stringify(values.batch)}`);
    const keepAudio = Boolean(values['keep-audio']);
    const budgetArg = values['memory-budget'];
    const memoryBudgetMiB = budgetArg === undefined ? undefined : Number(budgetArg);
    if (
      memoryBudgetMiB !== undefined &&
      !(
        /^\d+$/.test(budgetArg!) &&
        memoryBudgetMiB >= MEMORY_BUDGET_MIB.min &&
        memoryBudgetMiB <= MEMORY_BUDGET_MIB.max
      )
    )
      throw new UsageError(
        `--memory-budget must be an integer ${MEMORY_BUDGET_MIB.min}–${MEMORY_BUDGET_MIB.max} (MiB), got ${JSON.stringify(budgetArg)}`,
      );

    if (values.clips) {
      // A clip named twice is anonymized once (one output per clip and model per command).
      const ids = [...new Set(values.clips.split(',').map((s) => Number(s.trim())))];
      if (ids.some((i) => !Number.isInteger(i) || i < 1))
        throw new UsageError('--clips takes clip ids, e.g. --clips 3,4');
      return withCore(values['data-dir'], async (core) => {
        const model = core.resolveModel(values.model!);
        const results = [];
        for (const id of ids) {
          const out = await core.anonymize.anonymizeClip(
            id,
            model.id,
            { batch, keepAudio, ...(size !== undefined ? { size } : {}), ...(outputSize ? { outputSize } : {}) },
            {
              onProgress: (f) => process.stderr.write(`\rclip ${id}: ${(100 * f).toFixed(0)}%`),
              onNote: (note) => progress(`clip ${id}: ${note}`),
              ...(memoryBudgetMiB !== undefined ? { engine: { memoryBudgetMiB } } : {}),
            },
          );
          process.stderr.write('\n');
          results.push({
            clip: id,
            output: out.path,
            outputId: out.id,
            frames: out.frames,
            sha256: out.sha256,
            model: model.id,
            workingSize: out.settings.size,
            sizeSetting: out.settings.sizeSetting,
            width: out.settings.width,
            height: out.settings.height,
            outputSize: out.settings.outputSize,
            outputWidth: out.settings.outputWidth,
            outputHeight: out.settings.outputHeight,
            engine: out.engine,
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
    // Destinations first (before the model and the inputs are read), relative to the user's folder,
    // off this thread and within 2 s: a system file system or an unwritable folder fails at once,
    // an output is never an input, and an existing output is replaced only with --force.
    const outArg = path.resolve(values.out);
    const outputs = positionals.map((input) =>
      toFile ? outArg : path.join(outArg, `${path.parse(input).name}.anon.mp4`),
    );
    for (const [i, o] of outputs.entries()) {
      const j = outputs.indexOf(o);
      if (j !== i)
        throw new UsageError(
          `${positionals[j]} and ${positionals[i]} would both be written to ${o}; anonymize them into different folders`,
        );
    }
    await checkDestinations(
      [
        ...(toFile ? [] : [{ path: outArg, kind: 'folder' as const, label: 'the output folder' }]),
        ...outputs.map((o) => ({ path: o, kind: 'file' as const, label: 'the output file' })),
      ],
      {
        inputs: positionals.map((p) => path.resolve(p)),
        overwrite: Boolean(values.force),
        overwriteHint: 'add --force to replace it',
      },
    );
    const modelPath = resolveModelPath(values.model);
    resolveCheckpointPath(modelPath); // a missing model is reported before the inputs are read
    // Every input is probed before anything slow starts: a missing or broken file fails at once.
    for (const input of positionals) await probeVideo(input);
    const anonymizer = await Anonymizer.load(modelPath, {
      memoryBudgetMiB: memoryBudgetMiB ?? MEMORY_BUDGET_MIB.default,
    });
    const settings: AnonymizeSettings = {
      batch,
      keepAudio,
      size: size ?? 'auto',
      ...(outputSize ? { outputSize } : {}),
    };
    let personHeightFraction: number | null = null;
    if (settings.size === 'auto') {
      progress(`measuring people in ${positionals.length} input(s) for --size auto…`);
      try {
        const judges = await Judges.load();
        const m = await estimatePersonHeightFraction(positionals, judges);
        personHeightFraction = m.fraction;
        progress(
          m.fraction === null
            ? `nobody found in ${m.frames} frame(s): the working size follows the source's size`
            : `people: 20th percentile ${(100 * m.fraction).toFixed(1)}% of the frame height (${m.persons} in ${m.frames} frames)`,
        );
      } catch (err) {
        if (err instanceof SpactError && err.kind !== 'unavailable') throw err;
        progress(
          `people could not be measured (${(err as Error).message}): the working size follows the source's size`,
        );
      }
    }
    const results = [];
    for (const [i, input] of positionals.entries()) {
      const output = outputs[i]!;
      const r = await anonymizeFile(anonymizer, input, output, settings, {
        personHeightFraction,
        onProgress: (done, total) =>
          process.stderr.write(`\r${path.basename(input)}: ${done}${total ? `/${total}` : ''} frames`),
      });
      process.stderr.write('\n');
      const { settings: used, ...rest } = r;
      results.push({
        ...rest,
        workingSize: used.size,
        sizeSetting: used.sizeSetting,
        outputSize: used.outputSize,
        model: anonymizer.sha256,
        engine: {
          device: anonymizer.device,
          threads: anonymizer.threads,
          memoryBudgetMiB: memoryBudgetMiB ?? MEMORY_BUDGET_MIB.default,
          batchPixelsPerCall: anonymizer.batchPixelsPerCall,
          maxPixelsPerCall: anonymizer.maxPixelsPerCall,
        },
      });
      if (!values.json)
        progress(
          `${input} → ${output}: ${r.frames} frames at ${r.fps.toFixed(0)} frames/s, anonymized at ${r.width}×${r.height}` +
            (used.outputSize === 'source' ? `, encoded at ${r.outputWidth}×${r.outputHeight}` : ''),
        );
    }
    if (values.json) printJson(results);
    return 0;
  },
};
