import { generateSynthRoom, SYNTH_PRESETS, type SynthPreset } from '../../../native-models/ts/synthroom/generate.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { ProgressReporter } from '../progress-bar.js';

export const synthCommand: Command = {
  name: 'synth',
  summary: 'generate SynthRoom, the labelled benchmark (actions + person/room privacy attributes)',
  usage: `spact synth --out DIR [--preset tiny|small|full] [--seed N] [--mp4] [--json]

Writes, deterministically from the seed, four datasets in the engine's format:
  main/          all actions, training room styles: train/val/test (known & novel-privacy protocols)
  known-action/  the known action set only (train f_A for the novel-action protocol)
  novel-action/  the disjoint novel action set (target models of the novel-action protocol)
  new-room/      held-out room styles (room adaptation)
each with per-frame person boxes (boxes.json) for the obfuscation baselines.
  --preset   tiny (32², CI), small (64², default), full (112²)
  --mp4      also write one viewable sample video per action to DIR/samples/
  --json     print counts, action names and attribute names per group`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      out: { type: 'string' },
      preset: { type: 'string' },
      seed: { type: 'string' },
      mp4: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    const preset = (values.preset ?? 'small') as SynthPreset;
    if (!(preset in SYNTH_PRESETS))
      throw new UsageError(`--preset must be tiny, small or full, got "${values.preset}"`);
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0)
      throw new UsageError(`--seed must be a non-negative integer, got "${values.seed}"`);
    let writeSample;
    if (values.mp4) {
      const { encodeRgbToMp4 } = await import('../../core/media/ffmpeg.js');
      writeSample = (file: string, frames: Uint8Array, n: number, w: number, h: number) =>
        encodeRgbToMp4(file, frames, { frames: n, width: w, height: h, fps: 12 });
    }
    const bar = new ProgressReporter(2000);
    const result = await generateSynthRoom({
      out: values.out,
      preset,
      seed,
      ...(writeSample ? { writeSample } : {}),
      onProgress: (done, total) => bar.update(done / total, `${done}/${total} clips`),
    });
    bar.done();
    if (values.json) printJson(result);
    else {
      progress(
        `SynthRoom (${preset}, seed ${seed}): ${result.clips} clips of ${result.frames}×${result.size}² in ${result.seconds.toFixed(1)} s ` +
          `(${Math.round(result.clipsPerMinute)} clips/min) → ${result.out}`,
      );
    }
    return 0;
  },
};
