// Turns a room's unlabeled footage into a room dataset (native-models/ts/room-data.ts) for the
// real-room recipe: frames at the working size, and pseudo-labels from independent pretrained
// judges on the raw frames — people (CenterNet), who is who over time (tracks), and each tracked
// person's body keypoints (MoveNet on the person's crop). Labelling is the slow part (~0.3 s per
// frame on 2 cores), so the judges' findings are cached by footage content: a second fine-tune of
// the same footage reuses them. Long footage is sampled as evenly spread segments (bounded time,
// disk and memory); frames stream to disk, never all in memory.
import { fileSha256 } from '../../../native-models/ts/checkpoint.js';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  BODY_PARTS,
  RoomDatasetWriter,
  type RoomManifest,
  type RoomPerson,
} from '../../../native-models/ts/room-data.js';
import type { RecordCipher } from '../../../native-models/ts/record-file.js';
import { vaultGoverning } from '../vault/vault.js';
import { SpactError } from '../errors.js';
import { decodeFrames, probeVideo, workingSize, type VideoInfo } from '../media/video.js';
import type { Box, Judges } from '../privacy-audit/judges.js';
import { buildTracks, type Detection } from '../privacy-audit/tracks.js';

export interface FootagePart {
  file: string;
  /** Only this part of the file (seconds); default the whole file. */
  startS?: number;
  endS?: number;
}

export interface RoomFootageOptions {
  /** Working size: the short side of the frames (px). */
  size: number;
  /** Frames per second sampled (tracking wants consecutive frames; ≤ the source's rate). */
  fps: number;
  /** At most this many frames over all footage: longer footage is sampled in segments. */
  maxFrames: number;
  /** Length of one sampled segment (seconds). */
  segmentS: number;
  /** Tail share of every segment kept out of training (the loss-monitoring split). */
  valFraction: number;
  judges: Judges;
  /** Seals the cached frames with the data folder's key. */
  cipher?: RecordCipher | null;
  /** Where the judges' findings are cached (by footage content and sampling). */
  cacheDir?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface RoomFootageResult {
  manifest: RoomManifest;
  /** Frames the judges looked at in this call / found in the cache. */
  labelledFrames: number;
  cachedFrames: number;
  /** Where the call's time went, seconds: `label`, the judges' pass (people, tracks, poses, cache
   *  writes; nothing when cached); `sample`, everything else (probing, hashing, decoding, writing
   *  the frames) — the decoder runs alongside the judges, so `sample` is the time spent waiting for it. */
  seconds: { sample: number; label: number };
}

/** Version of what the labeller produces: a change invalidates cached pseudo-labels. */
const LABELLER = { persons: 'human/centernet', pose: 'human/movenet-lightning', minScore: 0.4, version: 1 };

interface CachedLabels {
  detections: Detection[][];
  /** Per frame, per detection: [x, y, score] × 17 in frame coordinates, or null (not judged). */
  keypoints: ([number, number, number][] | null)[][];
}

/** A square around a person (1.2× the box's longer side): the input of the pose judge. */
function squareCrop(
  frame: Uint8Array,
  width: number,
  height: number,
  box: Box,
): { rgb: Uint8Array; side: number; x0: number; y0: number } {
  const side = Math.max(16, Math.round(1.2 * Math.max(box.w * width, box.h * height)));
  const x0 = Math.round((box.x + box.w / 2) * width - side / 2);
  const y0 = Math.round((box.y + box.h / 2) * height - side / 2);
  const rgb = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    const sy = Math.min(height - 1, Math.max(0, y0 + y));
    for (let x = 0; x < side; x++) {
      const sx = Math.min(width - 1, Math.max(0, x0 + x));
      rgb.set(frame.subarray((sy * width + sx) * 3, (sy * width + sx) * 3 + 3), (y * side + x) * 3);
    }
  }
  return { rgb, side, x0, y0 };
}

/** Where to sample a file: evenly spread segments when the footage is longer than the budget. */
function segmentsOf(
  startS: number,
  endS: number,
  fps: number,
  frameBudget: number,
  segmentS: number,
): { startS: number; durationS: number }[] {
  const length = endS - startS;
  if (length * fps <= frameBudget) return [{ startS, durationS: length }];
  // Segments never reach outside [startS, endS] (a held-out part may follow) nor past the budget.
  const segLen = Math.min(segmentS, length, frameBudget / fps);
  const count = Math.max(1, Math.floor(frameBudget / (segLen * fps)));
  const stride = length / count;
  return Array.from({ length: count }, (_, i) => ({
    startS: Math.min(endS - segLen, Math.max(startS, startS + i * stride + (stride - segLen) / 2)),
    durationS: segLen,
  }));
}

export async function buildRoomDataset(
  parts: FootagePart[],
  outDir: string,
  opts: RoomFootageOptions,
): Promise<RoomFootageResult> {
  if (parts.length === 0) throw new SpactError('bad-input', 'no footage given');
  const t0 = performance.now();
  let labelMs = 0;
  const progress = opts.onProgress ?? (() => undefined);
  const infos: VideoInfo[] = [];
  for (const p of parts) infos.push(await probeVideo(p.file));
  const size = workingSize(infos[0]!, opts.size);
  // One frame size for all of a room's footage: a camera with another aspect ratio would be stretched.
  const aspect = (i: VideoInfo) => i.width / i.height;
  const odd = infos.findIndex((i) => Math.abs(aspect(i) - aspect(infos[0]!)) > 0.02);
  if (odd >= 0) {
    throw new SpactError(
      'bad-input',
      `${parts[odd]!.file} is ${infos[odd]!.width}×${infos[odd]!.height}, another aspect ratio than ${parts[0]!.file} (${infos[0]!.width}×${infos[0]!.height}): fine-tune one camera at a time`,
    );
  }
  const durations = parts.map((p, i) =>
    Math.max(0, Math.min(p.endS ?? infos[i]!.durationS, infos[i]!.durationS) - (p.startS ?? 0)),
  );
  const total = durations.reduce((a, d) => a + d, 0);
  if (!(total > 0)) throw new SpactError('bad-input', 'the footage parts given are empty');
  const writer = new RoomDatasetWriter(outDir, size.width, size.height, opts.cipher ?? null);
  const people: RoomPerson[][] = [];
  const sources: RoomManifest['sources'] = [];
  const train: number[] = [];
  const val: number[] = [];
  let labelledFrames = 0;
  let cachedFrames = 0;
  let trackBase = 0;
  try {
    for (const [i, part] of parts.entries()) {
      const info = infos[i]!;
      const fps = Math.min(opts.fps, Math.max(1, info.fps));
      const budget = Math.max(1, Math.round((opts.maxFrames * durations[i]!) / total));
      const from = part.startS ?? 0;
      const segments = segmentsOf(from, from + durations[i]!, fps, budget, opts.segmentS);
      const sha = fileSha256(part.file);
      for (const seg of segments) {
        const first = people.length;
        const key = createHash('sha256')
          .update(JSON.stringify([sha, seg.startS, seg.durationS, size.width, size.height, fps, LABELLER]))
          .digest('hex')
          .slice(0, 32);
        const cacheFile = opts.cacheDir ? path.join(opts.cacheDir, `${key}.json`) : null;
        let cached: CachedLabels | null = null;
        if (cacheFile && fs.existsSync(cacheFile)) {
          try {
            // Sealed with the data folder's vault where it lives in one (people's boxes and poses).
            const text = fs.readFileSync(cacheFile, 'utf8');
            cached = JSON.parse(vaultGoverning(cacheFile)?.openText(text) ?? text) as CachedLabels;
          } catch {
            cached = null; // a damaged cache entry is recomputed
          }
        }
        // Frames go to disk as they are decoded; the judges look at each one once.
        const detections: Detection[][] = [];
        const frameBytes = size.width * size.height * 3;
        for await (const batch of decodeFrames(part.file, {
          ...size,
          fps,
          batch: 8,
          startS: seg.startS,
          durationS: seg.durationS,
        })) {
          for (let k = 0; k < batch.n; k++) {
            if (opts.signal?.aborted) throw new SpactError('cancelled', 'cancelled');
            const frame = batch.frames.subarray(k * frameBytes, (k + 1) * frameBytes);
            const index = writer.add(frame);
            if (cached) continue;
            if ((index - first) % 25 === 0)
              progress(`finding people in ${path.basename(part.file)} (frame ${index + 1})…`);
            const since = performance.now();
            detections.push(await opts.judges.persons(frame, size.width, size.height));
            labelMs += performance.now() - since;
          }
        }
        const count = writer.frames - first;
        if (count === 0)
          throw new SpactError('bad-input', `${part.file}: no frame could be decoded at ${seg.startS.toFixed(1)} s`);
        let labels: CachedLabels;
        if (cached && cached.detections.length === count) {
          labels = cached;
          cachedFrames += count;
        } else {
          if (cached)
            throw new SpactError('internal', `cached pseudo-labels do not match the footage; delete ${cacheFile}`);
          const since = performance.now();
          // Keypoints for the people that are followed over time (the ones training uses).
          const tracks = buildTracks(detections);
          const keypoints: CachedLabels['keypoints'] = detections.map((d) => d.map(() => null));
          const judged = tracks.flatMap((t) => t.points).filter((p) => p.box.h * size.height >= 24);
          const frameBuf = new Uint8Array(frameBytes);
          for (const [n, p] of judged.entries()) {
            if (opts.signal?.aborted) throw new SpactError('cancelled', 'cancelled');
            if (n % 100 === 0) progress(`judging poses (${n + 1}/${judged.length})…`);
            writer.readFrame(first + p.frame, frameBuf);
            const c = squareCrop(frameBuf, size.width, size.height, p.box);
            const body = await opts.judges.pose(c.rgb, c.side, c.side);
            const di = detections[p.frame]!.findIndex((d) => d.box === p.box);
            if (!body || di < 0) continue;
            keypoints[p.frame]![di] = BODY_PARTS.map((part) => {
              const k = body.keypoints.find((q) => q.part === part);
              return k ? [(c.x0 + k.x * c.side) / size.width, (c.y0 + k.y * c.side) / size.height, k.score] : [0, 0, 0];
            });
          }
          labels = { detections, keypoints };
          labelledFrames += count;
          if (cacheFile) {
            fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
            const vault = vaultGoverning(cacheFile);
            const text = JSON.stringify(labels);
            fs.writeFileSync(`${cacheFile}.tmp`, vault ? vault.sealText(text) : text);
            fs.renameSync(`${cacheFile}.tmp`, cacheFile);
          }
          labelMs += performance.now() - since;
        }
        // Tracks are recomputed from the detections (cheap); ids are unique over all segments.
        const tracks = buildTracks(labels.detections);
        const trackOf = labels.detections.map((d) => d.map(() => null as number | null));
        for (const t of tracks) {
          for (const p of t.points) {
            const di = labels.detections[p.frame]!.findIndex((d) => d.box === p.box);
            if (di >= 0) trackOf[p.frame]![di] = trackBase + t.id;
          }
        }
        trackBase += tracks.length;
        // The loss-monitoring tail of each segment, a second away from the training frames (the
        // same people walk on: adjacent frames would make its losses optimistic).
        const valFrom = Math.floor(count * (1 - opts.valFraction));
        const gap = Math.round(fps);
        labels.detections.forEach((dets, f) => {
          people.push(
            dets.map((d, di) => ({
              box: [d.box.x, d.box.y, d.box.w, d.box.h],
              score: d.score,
              track: trackOf[f]![di] ?? null,
              keypoints: labels.keypoints[f]![di] ?? null,
            })),
          );
          if (f >= valFrom) val.push(first + f);
          else if (f < valFrom - gap) train.push(first + f);
        });
        sources.push({ file: part.file, startS: seg.startS, endS: seg.startS + seg.durationS, first, count });
      }
    }
    const manifest = writer.finish({
      fps: Math.min(opts.fps, Math.max(1, infos[0]!.fps)),
      sources,
      people,
      splits: { train, val },
      labeller: { ...LABELLER, size: opts.size, width: size.width, height: size.height },
    });
    const label = labelMs / 1000;
    return {
      manifest,
      labelledFrames,
      cachedFrames,
      seconds: { sample: Math.max(0, (performance.now() - t0) / 1000 - label), label },
    };
  } catch (err) {
    writer.abort();
    throw err;
  }
}
