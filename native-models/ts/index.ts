// Public surface of the SPAct engine library.
export * from './anonymizer.js';
export * from './checkpoint.js';
export * from './config.js';
export * from './dataset.js';
export * from './engine.js';
export { loadNative, NativeEngineMissingError, type TorchInfo } from './native.js';
export * from './record-file.js';
export * from './rng.js';
export * from './trainer.js';
export * from './eval/baselines.js';
export * from './eval/evaluate.js';
export * from './eval/metrics.js';
export * from './models.js';
export * from './synthroom/generate.js';
export * from './synthroom/render.js';
export * from './synthroom/scene.js';
export * from './eval/select.js';
export * from './room-data.js';
