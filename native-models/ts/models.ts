// Where models live: the shipped default model (trained by the project's own command, see its
// model card) and user runs. `default` resolves to the shipped one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CheckpointError } from './checkpoint.js';

function nativeModelsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    const candidate = path.join(dir, 'native-models');
    if (fs.existsSync(path.join(candidate, 'binding.gyp'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('native-models folder not found');
    dir = parent;
  }
  return dir;
}

/** The shipped default model's run folder (checkpoint.pt + MODEL_CARD.md); SPACT_DEFAULT_MODEL overrides it. */
export function defaultModelDir(): string {
  if (process.env.SPACT_DEFAULT_MODEL) return path.resolve(process.env.SPACT_DEFAULT_MODEL);
  return path.join(nativeModelsDir(), 'models', 'default');
}

/** The SynthRoom-trained model (bench:privacy's SPAct, see its card): the base of the SynthRoom
 *  benchmarks and of `--recipe synthroom` fine-tunes. */
export function synthroomModelDir(): string {
  return path.join(nativeModelsDir(), 'models', 'synthroom');
}

/** `default` → the shipped model, `synthroom` → the SynthRoom one; anything else is a run folder
 *  or checkpoint path. */
export function resolveModelPath(model: string): string {
  if (model === 'synthroom') return synthroomModelDir();
  if (model !== 'default') return path.resolve(model);
  const dir = defaultModelDir();
  if (!fs.existsSync(path.join(dir, 'checkpoint.pt'))) {
    throw new CheckpointError(
      'not-found',
      `the default model is missing (${dir}/checkpoint.pt); reinstall or pass --model RUN_DIR`,
    );
  }
  return dir;
}
