// Independent pretrained judges (inference only, TensorFlow.js on WebAssembly): @vladmandic/human
// (BlazeFace + FaceRes: face boxes, 1024-d embedding, age, gender; CenterNet: persons; MoveNet:
// body keypoints) and @vladmandic/face-api (SSD MobileNet + a 128-d face recognizer, age, gender).
// Models ship inside the packages and are read from disk through a file:// load router.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { SpactError } from '../errors.js';

const require = createRequire(import.meta.url);

export interface Box {
  x: number; // normalised to [0, 1]
  y: number;
  w: number;
  h: number;
}

export interface FaceFinding {
  judge: 'human' | 'face-api';
  box: Box;
  score: number;
  embedding: number[];
  gender: string | null;
  age: number | null;
}

export interface BodyFinding {
  box: Box;
  score: number;
  keypoints: { part: string; x: number; y: number; score: number }[];
}

export interface FrameFindings {
  faces: FaceFinding[];
  persons: { box: Box; score: number }[];
  bodies: BodyFinding[];
}

function packageDir(name: string): string {
  // The packages' exports maps hide package.json; walk up from the main entry instead.
  let dir = path.dirname(require.resolve(name));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

interface TfLike {
  io: { registerLoadRouter(fn: (url: string | string[]) => unknown): void };
  tensor3d(data: Uint8Array, shape: [number, number, number], dtype: 'int32'): { dispose(): void };
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
}

/** Loads tfjs graph models from file:// URLs (Node's fetch does not implement file:). */
function registerFileRouter(tf: TfLike): void {
  tf.io.registerLoadRouter((url) => {
    const u = Array.isArray(url) ? url[0] : url;
    if (typeof u !== 'string' || !u.startsWith('file://')) return null;
    return {
      load: async () => {
        const file = fileURLToPath(u);
        const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
          modelTopology: unknown;
          format?: string;
          generatedBy?: string;
          convertedBy?: string;
          signature?: unknown;
          userDefinedMetadata?: unknown;
          weightsManifest: { paths: string[]; weights: unknown[] }[];
        };
        const specs: unknown[] = [];
        const buffers: Buffer[] = [];
        for (const group of json.weightsManifest) {
          specs.push(...group.weights);
          for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(file), p)));
        }
        const all = Buffer.concat(buffers);
        return {
          modelTopology: json.modelTopology,
          format: json.format,
          generatedBy: json.generatedBy,
          convertedBy: json.convertedBy,
          weightSpecs: specs,
          weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
          signature: json.signature,
          userDefinedMetadata: json.userDefinedMetadata,
        };
      },
    };
  });
}

// Per-call overrides of the judges' configuration: one model at a time where only one is needed.
const PERSONS_ONLY = {
  face: { enabled: false },
  body: { enabled: false },
  object: { enabled: true },
  filter: { enabled: false },
};
const POSE_ONLY = {
  face: { enabled: false },
  body: { enabled: true, minConfidence: 0.1 },
  object: { enabled: false },
  filter: { enabled: false },
};

/** What a judge answers about one RGB frame (height × width × 3 bytes). */
export interface FrameJudge {
  persons(rgb: Uint8Array, width: number, height: number): Promise<{ box: Box; score: number }[]>;
  pose(rgb: Uint8Array, width: number, height: number): Promise<BodyFinding | null>;
  analyze(rgb: Uint8Array, width: number, height: number): Promise<FrameFindings>;
}

/**
 * The judges as the app uses them: in a worker thread (judges-worker.ts), since their models run
 * synchronously in WebAssembly for up to seconds per frame and the thread that loads them must
 * keep answering the window; in this thread where the worker is not built (tests on sources).
 */
export class Judges implements FrameJudge {
  private constructor(private readonly backend: FrameJudge & { close?(): Promise<void> }) {}

  static async load(): Promise<Judges> {
    const { JudgesWorker, judgesWorkerEntry } = await import('./judges-worker-client.js');
    if (fs.existsSync(judgesWorkerEntry())) return new Judges(await JudgesWorker.start());
    return new Judges(await InThreadJudges.load());
  }

  persons(rgb: Uint8Array, width: number, height: number) {
    return this.backend.persons(rgb, width, height);
  }

  pose(rgb: Uint8Array, width: number, height: number) {
    return this.backend.pose(rgb, width, height);
  }

  analyze(rgb: Uint8Array, width: number, height: number) {
    return this.backend.analyze(rgb, width, height);
  }

  /** Ends the worker (the judges are kept for the life of a process otherwise). */
  async close(): Promise<void> {
    await this.backend.close?.();
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the judges' packages ship loose typings for their Node builds */
/** The judges' models in the calling thread (the worker's side, and the fallback). */
export class InThreadJudges implements FrameJudge {
  private constructor(
    private readonly human: any,
    private readonly faceapi: any,
  ) {}

  static async load(): Promise<InThreadJudges> {
    try {
      const wasmDir = path.join(packageDir('@tensorflow/tfjs-backend-wasm'), 'dist') + path.sep;
      const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void };
      wasm.setWasmPaths(wasmDir);
      const humanDir = packageDir('@vladmandic/human');
      const { Human } = require(path.join(humanDir, 'dist', 'human.node-wasm.js')) as {
        Human: new (c: unknown) => any;
      };
      const human = new Human({
        backend: 'wasm',
        wasmPath: wasmDir,
        modelBasePath: `file://${path.join(humanDir, 'models')}/`,
        cacheSensitivity: 0, // every frame is judged afresh, never from a cached result
        debug: false,
        face: {
          enabled: true,
          detector: { maxDetected: 10, rotation: false, minConfidence: 0.3 },
          mesh: { enabled: true },
          iris: { enabled: false },
          description: { enabled: true },
          emotion: { enabled: false },
          antispoof: { enabled: false },
          liveness: { enabled: false },
        },
        body: { enabled: true, modelPath: 'movenet-lightning.json', minConfidence: 0.2 },
        object: { enabled: true, modelPath: 'centernet.json', minConfidence: 0.3 },
        hand: { enabled: false },
        gesture: { enabled: false },
        segmentation: { enabled: false },
      });
      registerFileRouter(human.tf as TfLike);
      await human.load();
      const faceapi = require(path.join(packageDir('@vladmandic/face-api'), 'dist', 'face-api.node-wasm.js')) as any;
      await faceapi.tf.setBackend('wasm');
      await faceapi.tf.ready();
      const modelDir = path.join(packageDir('@vladmandic/face-api'), 'model');
      await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
      await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
      await faceapi.nets.faceRecognitionNet.loadFromDisk(modelDir);
      await faceapi.nets.ageGenderNet.loadFromDisk(modelDir);
      return new InThreadJudges(human, faceapi);
    } catch (err) {
      throw new SpactError(
        'unavailable',
        `the privacy judges could not be loaded: ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }

  /** Person boxes only (CenterNet), for tracking and recall: skips the face and pose models. */
  async persons(rgb: Uint8Array, width: number, height: number): Promise<{ box: Box; score: number }[]> {
    const t = this.human.tf.tensor3d(rgb, [height, width, 3], 'int32');
    let res: any;
    try {
      res = await this.human.detect(t, PERSONS_ONLY);
    } finally {
      t.dispose();
    }
    return (res.object ?? [])
      .filter((o: any) => o.label === 'person')
      .map((o: any) => ({
        box: { x: o.box[0] / width, y: o.box[1] / height, w: o.box[2] / width, h: o.box[3] / height },
        score: o.score as number,
      }));
  }

  /** Body keypoints (MoveNet, one person) of an image that shows one person, e.g. a person crop;
   *  coordinates normalised to the image. Null when no body is found. */
  async pose(rgb: Uint8Array, width: number, height: number): Promise<BodyFinding | null> {
    const t = this.human.tf.tensor3d(rgb, [height, width, 3], 'int32');
    let res: any;
    try {
      res = await this.human.detect(t, POSE_ONLY);
    } finally {
      t.dispose();
    }
    const b = (res.body ?? [])[0];
    if (!b) return null;
    return {
      box: { x: b.box[0] / width, y: b.box[1] / height, w: b.box[2] / width, h: b.box[3] / height },
      score: b.score,
      keypoints: (b.keypoints ?? []).map((k: any) => ({
        part: k.part,
        x: k.position[0] / width,
        y: k.position[1] / height,
        score: k.score,
      })),
    };
  }

  async analyze(rgb: Uint8Array, width: number, height: number): Promise<FrameFindings> {
    const norm = (b: number[]): Box => ({ x: b[0]! / width, y: b[1]! / height, w: b[2]! / width, h: b[3]! / height });
    const t1 = this.human.tf.tensor3d(rgb, [height, width, 3], 'int32');
    let res: any;
    try {
      res = await this.human.detect(t1);
    } finally {
      t1.dispose();
    }
    const faces: FaceFinding[] = (res.face ?? []).map((f: any) => ({
      judge: 'human' as const,
      box: norm(f.box),
      score: f.score ?? 0,
      embedding: Array.from(f.embedding ?? []) as number[],
      gender: f.gender ?? null,
      age: typeof f.age === 'number' ? f.age : null,
    }));
    const t2 = this.faceapi.tf.tensor3d(rgb, [height, width, 3], 'int32');
    try {
      const found = await this.faceapi
        .detectAllFaces(t2, new this.faceapi.SsdMobilenetv1Options({ minConfidence: 0.3 }))
        .withFaceLandmarks()
        .withFaceDescriptors()
        .withAgeAndGender();
      for (const f of found) {
        const b = f.detection.box;
        faces.push({
          judge: 'face-api',
          box: { x: b.x / width, y: b.y / height, w: b.width / width, h: b.height / height },
          score: f.detection.score,
          embedding: Array.from(f.descriptor as Float32Array),
          gender: f.gender ?? null,
          age: typeof f.age === 'number' ? f.age : null,
        });
      }
    } finally {
      t2.dispose();
    }
    const persons = (res.object ?? [])
      .filter((o: any) => o.label === 'person')
      .map((o: any) => ({ box: norm(o.box), score: o.score }));
    const bodies: BodyFinding[] = (res.body ?? []).map((b: any) => ({
      box: norm(b.box),
      score: b.score,
      keypoints: (b.keypoints ?? []).map((k: any) => ({
        part: k.part,
        x: k.position[0] / width,
        y: k.position[1] / height,
        score: k.score,
      })),
    }));
    return { faces, persons, bodies };
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
