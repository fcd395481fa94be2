// How the core's records are shown across the contract (the *View schemas of contract.ts).
import type { ClipView, JobView, ModelView, OutputView } from '../../contract.js';
import type { OutputRecord } from '../anonymize/anonymize-service.js';
import type { JobRecord } from '../jobs/job-runner.js';
import type { Clip, ModelRecord } from '../library/library-service.js';

/** The clip a job works on (anonymize, audit): a reloaded screen finds its running jobs again. */
const clipOf = (payload: unknown): number | null => {
  const id = (payload as { clipId?: unknown } | null)?.clipId;
  return typeof id === 'number' ? id : null;
};

export const jobView = (j: JobRecord): JobView => ({
  id: j.id,
  kind: j.kind,
  status: j.status,
  progress: j.progress,
  message: j.message,
  error: j.error,
  result: j.result,
  createdAt: j.createdAt,
  clipId: clipOf(j.payload),
});

export const outputView = (o: OutputRecord): OutputView => ({
  id: o.id,
  clipId: o.clipId,
  modelId: o.modelId,
  sha256: o.sha256,
  frames: o.frames,
  fps: o.fps,
  durationS: o.durationS,
  width: o.settings.outputWidth,
  height: o.settings.outputHeight,
  workingWidth: o.settings.width,
  workingHeight: o.settings.height,
  outputSize: o.settings.outputSize,
  createdAt: o.createdAt,
});

/** A clip with its anonymized outputs: no raw path. */
export const clipView = (c: Clip, outputs: OutputRecord[]): ClipView => ({
  id: c.id,
  roomId: c.roomId,
  name: c.name,
  sha256: c.sha256,
  sizeBytes: c.sizeBytes,
  durationS: c.durationS,
  width: c.width,
  height: c.height,
  fps: c.fps,
  importedAt: c.importedAt,
  outputs: outputs.map(outputView),
  cameraId: c.cameraId,
  maskHash: c.maskHash,
});

/** What every screen calls the model shipped with the app (stored as 'default', the CLI's name for
 *  it): one name, whether it is listed or stands for "no model chosen". */
export const SHIPPED_MODEL_NAME = 'Shipped model';

export const modelView = (m: ModelRecord, defaultId: number | undefined): ModelView => ({
  id: m.id,
  name: defaultId === m.id ? SHIPPED_MODEL_NAME : m.name,
  sha256: m.sha256,
  parentId: m.parentId,
  runId: m.runId,
  isDefault: defaultId === m.id,
  createdAt: m.createdAt,
});
