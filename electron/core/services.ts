// Everything the transports need: the dispatcher with a handler for every contract method, the
// event hub, and media resolution with role checks. One instance per running app.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type {
  AuditReportView,
  CameraView,
  ClipView,
  JobView,
  MediaKind,
  ModelView,
  OutputView,
  Role,
  Settings,
} from '../contract.js';
import { ApiDispatcher, type Handlers } from './api-dispatcher.js';
import { checkDevice } from '../../native-models/ts/engine.js';
import {
  APP_SIZE_DEFAULTS,
  ENGINE_DEFAULTS,
  readAppSizeSettings,
  readEngineSettings,
  type OutputRecord,
} from './anonymize/anonymize-service.js';
import { openAppCore, type AnonymizeJob, type AppCore } from './app-core.js';
import { readAppInfo } from './app-info.js';
import { CameraService } from './cameras/camera-service.js';
import { EventHub } from './event-hub.js';
import { SpactError } from './errors.js';
import type { JobRecord } from './jobs/job-runner.js';
import { reconcileFiles } from './jobs/reconcile.js';
import type { Clip } from './library/library-service.js';
import { applyRetention, startRetention } from './library/retention.js';
import { LiveService, type LiveSource } from './live/live-service.js';
import { ffmpegPath } from './media/ffmpeg.js';
import { probeVideo } from './media/video.js';
import { resolveWorkingSize } from './media/working-size.js';
import { RunsService } from './training/runs-service.js';
import { PrivacyAuditStore, runAuditJob, type AuditJob, type StoredAudit } from './privacy-audit/audit.js';
import { Judges } from './privacy-audit/judges.js';
import { SessionService } from './session/session-service.js';
import { RawViewLog } from './audit/raw-view-log.js';

export interface CoreServices {
  dispatcher: ApiDispatcher;
  events: EventHub;
  core: AppCore;
  session: SessionService;
  /** The file behind a media URL, after the role check (raw clips: admin only, audited). */
  resolveMedia(kind: MediaKind, id: number): Promise<{ file: string; contentType: string }>;
  /** Whether the current role may import (browser mode asks before reading an upload's body);
   *  a refusal is audited. */
  uploadAllowed(): boolean;
  /** Imports an uploaded file (browser mode): it is copied into the library, the upload removed.
   *  With a camera (a recording of a registered camera) its privacy masks are burned in. */
  importUpload(
    tmpFile: string,
    originalName: string,
    roomId: number | null,
    cameraId?: number | null,
  ): Promise<ClipView>;
  close(): Promise<void>;
}

export interface CoreOptions {
  dataDir?: string;
  /** Start as this role (tests, kiosk set-ups); otherwise admin until an admin PIN exists. */
  role?: Role;
}

const jobView = (j: JobRecord): JobView => ({
  id: j.id,
  kind: j.kind,
  status: j.status,
  progress: j.progress,
  message: j.message,
  error: j.error,
  result: j.result,
  createdAt: j.createdAt,
  // The clip a job works on (anonymize, audit): a reloaded screen finds its running jobs again.
  clipId: clipOf(j.payload),
});

const clipOf = (payload: unknown): number | null => {
  const id = (payload as { clipId?: unknown } | null)?.clipId;
  return typeof id === 'number' ? id : null;
};

const outputView = (o: OutputRecord): OutputView => ({
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

const SETTINGS_DEFAULTS: Omit<Settings, 'dataDir'> = {
  ...ENGINE_DEFAULTS,
  defaultModelId: null,
  ...APP_SIZE_DEFAULTS,
  keepAudio: false,
};

/** The first frame of an anonymized output as a 160-px JPEG, written to a temporary file and renamed. */
async function makeThumbnail(video: string, file: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}.jpg`;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        ffmpegPath(),
        ['-hide_banner', '-loglevel', 'error', '-i', video, '-frames:v', '1', '-vf', 'scale=160:-2', '-y', tmp],
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    await fs.promises.rename(tmp, file);
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

/** How long after start-up the first job (a requeued one included) may start. */
export const JOB_START_DELAY_MS = 300;

export function createCoreServices(opts: CoreOptions = {}): CoreServices {
  const events = new EventHub();
  const core = openAppCore({
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    onJobUpdate: (j) => events.emit('job.updated', jobView(j)),
  });
  const session = new SessionService(core.db, core.audit, opts.role);
  const runs = new RunsService(
    core.db,
    core.library,
    core.dataDir,
    () => core.jobs,
    (e) => events.emit('run.progress', e),
    // Room runs share the audits' judges (loaded once) and cache what they find in the data folder.
    {
      judges: () => loadJudges(),
      cacheDir: path.join(core.dataDir, 'cache', 'judges'),
      measureRoom: (roomId, o) => core.anonymize.measureRoom(roomId, o),
      // Device and threads as the settings say when the run starts (or resumes).
      engine: () => core.anonymize.engineSettings(),
      cipher: core.vault.recordCipher,
    },
  );
  core.jobs.register('finetune', (payload, ctx) => runs.execute(payload as { runId: number; resume: boolean }, ctx));
  const live = new LiveService(
    (f) => events.emit('live.frame', f),
    (e) => events.emit('live.ended', e),
  );
  // The only sources live opens; admins register them, with privacy masks.
  const cameras = new CameraService(core.db, core.vault, core.audit);

  const readSettings = (): Settings => {
    const rows = core.db.prepare(`SELECT key, value FROM settings`).all() as { key: string; value: string }[];
    const stored = Object.fromEntries(
      rows.filter((r) => r.key in SETTINGS_DEFAULTS).map((r) => [r.key, JSON.parse(r.value) as unknown]),
    );
    // Sizes stored by an older version are kept, brought within today's limits; engine values out
    // of range are the defaults. A data folder stored by an older version is not a setting.
    return {
      ...SETTINGS_DEFAULTS,
      ...stored,
      ...readAppSizeSettings(core.db),
      ...readEngineSettings(core.db),
      dataDir: core.dataDir,
    };
  };

  const clipView = (c: Clip): ClipView => ({
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
    outputs: core.anonymize.outputs({ clipId: c.id }).map(outputView),
    cameraId: c.cameraId,
    maskHash: c.maskHash,
  });

  /** The model to use: explicit, else the room's active model, else the settings' default, else the shipped one. */
  const chooseModel = (explicit: number | null | undefined, roomId?: number | null): number => {
    if (explicit) return core.library.model(explicit).id;
    if (roomId) {
      const room = core.library.room(roomId);
      if (room.activeModelId) return room.activeModelId;
    }
    const s = readSettings();
    if (s.defaultModelId) return s.defaultModelId;
    const d = core.defaultModel();
    if (!d)
      throw new SpactError('not-found', 'no model: the default model is not installed and none is chosen in Settings');
    return d.id;
  };
  const anonymizerFor = (modelId: number) => core.anonymize.anonymizerFor(core.library.model(modelId));
  // The judges take a few seconds to load: once, on the first audit or person measurement.
  let judges: Promise<Judges> | undefined;
  const loadJudges = (): Promise<Judges> => {
    judges ??= Judges.load();
    return judges.catch((e: unknown) => {
      judges = undefined;
      throw e;
    });
  };
  core.anonymize.loadPersonDetector = loadJudges;

  // Privacy audits run as jobs (minutes) and are stored with the output they judged.
  const audits = new PrivacyAuditStore(core.db);
  core.jobs.register('audit', (payload, ctx) =>
    runAuditJob(
      {
        library: core.library,
        anonymize: core.anonymize,
        store: audits,
        log: core.audit,
        judges: loadJudges,
        cacheDir: path.join(core.dataDir, 'audit-cache'),
        engine: () => core.anonymize.engineSettings(),
      },
      payload as AuditJob,
      ctx,
    ),
  );
  /** The clip's audit job while it is queued or running. */
  const auditJobOf = (clipId: number): JobRecord | null =>
    [...core.jobs.list({ status: 'running' }), ...core.jobs.list({ status: 'queued' })].find(
      (j) => j.kind === 'audit' && (j.payload as AuditJob).clipId === clipId,
    ) ?? null;
  const auditView = (a: StoredAudit): AuditReportView => a;

  // Start-up never runs or waits for a job: the rows of interrupted jobs and runs are reconciled
  // now (fast), their files in the background, and the first job starts once both are done and
  // the host has had time to start answering (its server, its window).
  const interrupted = core.jobs.recover();
  runs.reconcile();
  const reconciled = reconcileFiles({ db: core.db, audit: core.audit, dataDir: core.dataDir, interrupted });
  core.jobs.start({ delayMs: JOB_START_DELAY_MS, after: reconciled });
  // Retention (rooms.setRetention): expired raw clips go a moment after start-up, then daily.
  const retention = startRetention(() => applyRetention(core.library, core.audit), { delayMs: JOB_START_DELAY_MS });

  // Raw video is admin only; a refusal is audited like a view. One view, one entry: clips.rawAccess
  // (the app asks before playing) records the view, and the media requests of that playback (a
  // video element makes several Range requests) are part of it. A media request without a recent
  // rawAccess (another player, a reload) records the view itself.
  const requireRaw = (object: string, what = 'raw video'): void => {
    if (session.allows('admin')) return;
    core.audit.record(session.current, 'raw-view-denied', object);
    session.require('admin', what);
  };
  const rawViews = new RawViewLog((clipId) => core.audit.record('admin', 'raw-view', `clip:${clipId}`));

  const handlers: Handlers = {
    'app.info': (_req, ctx) => readAppInfo(ctx.transport),
    'session.get': () => session.state(),
    'session.switch': (r) => {
      const s = session.switchTo(r.role, r.pin);
      events.emit('session.changed', s);
      return s;
    },
    'session.setPin': (r) => session.setPin(r.role, r.pin),
    'session.ackLockouts': () => session.acknowledgeLockouts(),

    'rooms.list': () => core.library.rooms(),
    'rooms.create': (r) => {
      session.require('operator', 'creating rooms');
      return core.library.createRoom(r.name);
    },
    'rooms.setModel': (r) => {
      session.require('operator', 'choosing a room model');
      core.audit.record(session.current, 'room-model', `room:${r.roomId}`, { modelId: r.modelId });
      return core.library.setActiveModel(r.roomId, r.modelId);
    },
    'rooms.setSize': (r) => {
      session.require('operator', "changing a room's working size");
      const { roomId, ...change } = r;
      const room = core.library.setRoomSize(roomId, change);
      core.audit.record(session.current, 'room-size', `room:${roomId}`, change);
      return room;
    },
    'rooms.measure': async (r) => {
      session.require('operator', 'measuring people in a room');
      return core.anonymize.measureRoom(r.roomId);
    },

    'rooms.delete': (r) => {
      session.require('operator', 'deleting rooms');
      const report = core.library.deleteRoom(r.roomId);
      core.audit.record(session.current, 'room-delete', `room:${r.roomId}`, {
        clips: report.clips,
        files: report.files.length,
        bytes: report.bytes,
      });
      return { deleted: r.roomId, clips: report.clips, files: report.files.length, bytes: report.bytes };
    },
    'rooms.setRetention': (r) => {
      session.require('admin', 'retention');
      const room = core.library.setRetention(r.roomId, r.days);
      core.audit.record(session.current, 'room-retention', `room:${r.roomId}`, { days: r.days });
      return room;
    },
    'rooms.rawData': (r) => {
      session.require('admin', 'where raw data lives');
      const entries = core.library.rawData(r.roomId);
      return { roomId: r.roomId, entries, totalBytes: entries.reduce((a, e) => a + e.bytes, 0) };
    },

    'clips.list': (r) => core.library.clips(r.roomId ? { roomId: r.roomId } : {}).map(clipView),
    'clips.import': async (r) => {
      session.require('operator', 'importing clips');
      const imported: ClipView[] = [];
      const failed: { file: string; error: string }[] = [];
      // A camera's clips go to its room (unless one is given) and are stored with its masks burned in.
      const camera = r.cameraId !== undefined ? cameras.open(r.cameraId) : null;
      const roomId = r.roomId !== undefined ? r.roomId : (camera?.roomId ?? null);
      for (const p of r.paths) {
        try {
          imported.push(
            clipView(
              await core.library.importClip(p, {
                roomId,
                ...(camera ? { camera: { id: camera.id, masks: camera.masks } } : {}),
              }),
            ),
          );
        } catch (err) {
          failed.push({ file: path.basename(p), error: (err as Error).message });
        }
      }
      return { imported, failed };
    },
    'clips.delete': async (r) => {
      session.require('operator', 'deleting clips');
      core.library.clip(r.id); // a clip that does not exist is not found, whatever its jobs
      // Its jobs end first (anonymize, audit, an export naming it): a queued one is cancelled, a
      // running one is stopped and awaited, so no job writes a file of a clip that is gone.
      const onClip = (payload: unknown) => {
        const p = payload as { clipId?: unknown; clipIds?: unknown };
        return p.clipId === r.id || (Array.isArray(p.clipIds) && p.clipIds.includes(r.id));
      };
      const active = [...core.jobs.list({ status: 'queued' }), ...core.jobs.list({ status: 'running' })].filter((j) =>
        onClip(j.payload),
      );
      for (const j of active) core.jobs.cancel(j.id);
      await Promise.all(active.map((j) => core.jobs.wait(j.id)));
      const report = core.library.deleteClip(r.id);
      core.audit.record(session.current, 'clip-delete', `clip:${r.id}`, {
        files: report.files.length,
        bytes: report.bytes,
      });
      return { deleted: r.id };
    },
    'clips.anonymize': (r) => {
      session.require('operator', 'anonymizing clips');
      const s = readSettings();
      // One job per clip and model at a time: a clip named twice, or one whose job for this model
      // is still queued or running, joins that job (its id comes back, once per clip id asked for)
      // instead of making a second output.
      const jobIds = r.clipIds.map((clipId) => {
        const clip = core.library.clip(clipId);
        const modelId = chooseModel(r.modelId, clip.roomId);
        const same = core.jobs.active('anonymize', (p) => {
          const a = p as AnonymizeJob;
          return a.clipId === clipId && a.modelId === modelId;
        });
        if (same) return same.id;
        // No size here: the job resolves the clip's room working size (the app setting without a
        // room) when it runs, measuring the room's people first when it is auto and unmeasured.
        return core.jobs.enqueue('anonymize', {
          clipId,
          modelId,
          settings: { keepAudio: s.keepAudio },
        }).id;
      });
      return { jobIds };
    },
    'clips.rawAccess': (r) => {
      requireRaw(`clip:${r.clipId}`);
      core.library.clip(r.clipId);
      rawViews.start(r.clipId);
      return { granted: true as const };
    },

    'clips.audit': (r) => {
      session.require('operator', 'privacy audits');
      const clip = core.library.clip(r.clipId);
      const out = core.anonymize.latestOutput(clip.id);
      if (!out) throw new SpactError('conflict', `clip ${clip.id} has no anonymized output to audit`);
      const running = auditJobOf(clip.id);
      if (running) return { jobId: running.id, clipId: clip.id, outputId: (running.payload as AuditJob).outputId };
      const job: AuditJob = {
        clipId: clip.id,
        outputId: out.id,
        actor: session.current,
        ...(r.startS !== undefined ? { startS: r.startS } : {}),
        ...(r.endS !== undefined ? { endS: r.endS } : {}),
      };
      // Not retried: a failed audit is reported, not run again behind the user's back.
      return { jobId: core.jobs.enqueue('audit', job, { maxAttempts: 1 }).id, clipId: clip.id, outputId: out.id };
    },
    'clips.auditReport': (r) => {
      const clip = core.library.clip(r.clipId);
      if (r.outputId !== undefined && core.anonymize.output(r.outputId).clipId !== clip.id)
        throw new SpactError('not-found', `output ${r.outputId} is not an output of clip ${clip.id}`);
      const latest = audits.latest(r.outputId !== undefined ? { outputId: r.outputId } : { clipId: clip.id });
      const job = auditJobOf(clip.id);
      return { audit: latest ? auditView(latest) : null, job: job ? jobView(job) : null };
    },
    'models.list': (): ModelView[] => {
      const def = core.defaultModel();
      return core.library.models().map((m) => ({
        id: m.id,
        name: m.name,
        sha256: m.sha256,
        parentId: m.parentId,
        runId: m.runId,
        isDefault: def?.id === m.id,
        createdAt: m.createdAt,
      }));
    },
    'jobs.list': () => core.jobs.list({ limit: 100 }).map(jobView),
    'jobs.cancel': (r) => {
      session.require('operator', 'cancelling jobs');
      return jobView(core.jobs.cancel(r.id));
    },

    'runs.list': () => runs.list(),
    'runs.get': (r) => runs.get(r.runId),
    'runs.start': (r) => {
      session.require('operator', 'fine-tuning');
      const base = chooseModel(r.baseModelId, r.roomId);
      return runs.start({
        roomId: r.roomId,
        baseModelId: base,
        ...(r.recipe ? { recipe: r.recipe } : {}),
        ...(r.steps !== undefined ? { steps: r.steps } : {}),
        ...(r.clips !== undefined ? { clips: r.clips } : {}),
      });
    },
    'runs.cancel': (r) => {
      session.require('operator', 'cancelling runs');
      return runs.cancel(r.runId);
    },
    'runs.resume': (r) => {
      session.require('operator', 'resuming runs');
      return runs.resume(r.runId);
    },
    'runs.metrics': (r) => runs.metrics(r.runId),
    'runs.promote': (r) => {
      session.require('operator', 'promoting a model');
      core.audit.record(session.current, 'promote', `run:${r.runId}`, { roomId: r.roomId });
      return runs.promote(r.runId, r.roomId);
    },

    'exports.start': async (r) => {
      session.require('operator', 'exporting');
      // The folder is checked (off this thread, within 2 s) before the job is queued.
      await core.exports.checkDestination(r.to, { overwrite: r.overwrite ?? false });
      const job = core.jobs.enqueue('export', {
        ...(r.clipIds ? { clipIds: r.clipIds } : { roomId: r.roomId }),
        to: r.to,
        actor: session.current,
        includeRoom: r.includeRoom ?? false,
        overwrite: r.overwrite ?? false,
      });
      return { jobId: job.id };
    },
    'exports.list': () => core.exports.exports(),

    'cameras.list': (r) => cameras.list(r.roomId !== undefined ? { roomId: r.roomId } : {}),
    'cameras.create': (r) => {
      session.require('admin', 'registering cameras');
      return cameras.create(session.current, r);
    },
    'cameras.update': (r) => {
      session.require('admin', 'changing cameras');
      const { cameraId, ...change } = r;
      return cameras.update(session.current, cameraId, change);
    },
    'cameras.delete': (r) => {
      session.require('admin', 'removing cameras');
      return { deleted: cameras.remove(session.current, r.cameraId) };
    },

    'settings.get': () => readSettings(),
    'settings.set': (r) => {
      session.require('admin', 'changing settings');
      if (r.defaultModelId) core.library.model(r.defaultModelId);
      // A CUDA device this machine lacks is refused now, with its reason (kind 'unavailable').
      if (r.device !== undefined) checkDevice(r.device);
      const upsert = core.db.prepare(
        `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      );
      core.db.transaction(() => {
        for (const [k, v] of Object.entries(r)) upsert.run(k, JSON.stringify(v));
      })();
      core.audit.record('admin', 'settings', null, r);
      return readSettings();
    },
    'audit.list': () => {
      session.require('admin', 'the audit log');
      return core.audit.entries(500);
    },

    'live.anonymizeFrame': async (r) => {
      // A registered local camera (its masks applied) for every role; ad-hoc capture for operators.
      let masks: CameraView['masks'] = [];
      if (r.cameraId === undefined) session.require('operator', 'capturing an unregistered camera');
      else {
        const camera = cameras.open(r.cameraId);
        if (camera.kind !== 'local')
          throw new SpactError('bad-input', `camera ${camera.id} is not a local camera: start it with live.start`);
        masks = camera.masks;
      }
      return live.anonymizeFrame(await anonymizerFor(chooseModel(r.modelId)), r.width, r.height, r.rgb, masks);
    },
    'live.start': async (r) => {
      // Only registered cameras: an admin chose what the core opens; every role picks from the list.
      if (r.showRaw) requireRaw('live', 'the raw side-by-side view');
      const camera = cameras.open(r.cameraId);
      if (camera.kind === 'local')
        throw new SpactError(
          'bad-input',
          `camera ${camera.id} is a local device: it is captured in the window and sent with live.anonymizeFrame`,
        );
      const source: LiveSource =
        camera.kind === 'file' ? { kind: 'file', path: camera.source } : { kind: 'stream', url: camera.source };
      const anonymizer = await anonymizerFor(chooseModel(r.modelId, camera.roomId));
      try {
        // Live frames are not measured for people: 'auto' follows the source's size (streams: 640×480).
        const setting = r.size ?? readSettings().inputSize;
        const size =
          setting === 'auto'
            ? resolveWorkingSize(
                'auto',
                source.kind === 'file' ? await probeVideo(source.path) : { width: 640, height: 480 },
              )
            : setting;
        const streamId = await live.start(anonymizer, source, {
          size,
          showRaw: Boolean(r.showRaw),
          masks: camera.masks,
          redact: camera.redact,
        });
        if (r.showRaw) core.audit.record('admin', 'raw-view', `live:${streamId}`, { cameraId: camera.id });
        return { streamId };
      } catch (err) {
        // Messages name the source: never its credentials or a file's path.
        if (err instanceof SpactError) throw new SpactError(err.kind, camera.redact(err.message));
        throw new SpactError('internal', camera.redact((err as Error).message));
      }
    },
    'live.stop': (r) => {
      live.stop(r.streamId);
      return { stopped: r.streamId };
    },
  };

  const thumbsDir = path.join(core.dataDir, 'thumbs');
  const thumbsInFlight = new Map<string, Promise<void>>();
  return {
    dispatcher: new ApiDispatcher(handlers),
    events,
    core,
    session,
    async resolveMedia(kind, id) {
      if (kind === 'output') return { file: core.anonymize.output(id).path, contentType: 'video/mp4' };
      if (kind === 'clip') {
        requireRaw(`clip:${id}`);
        // A clip that does not exist is not found, and was not viewed.
        const file = core.library.clip(id).path;
        rawViews.touch(id);
        return { file, contentType: 'video/mp4' };
      }
      // Thumbnails are taken from anonymized outputs only: no raw frame ever becomes a thumbnail.
      const out = core.anonymize.output(id);
      const file = path.join(thumbsDir, `output-${id}-${out.sha256.slice(0, 8)}.jpg`);
      if (!fs.existsSync(file)) {
        // Made off the core's thread, once however many screens ask for it at the same time.
        let making = thumbsInFlight.get(file);
        if (!making) {
          making = makeThumbnail(out.path, file).finally(() => thumbsInFlight.delete(file));
          thumbsInFlight.set(file, making);
        }
        try {
          await making;
        } catch {
          throw new SpactError('internal', `could not make a thumbnail for output ${id}`);
        }
      }
      return { file, contentType: 'image/jpeg' };
    },
    uploadAllowed() {
      if (session.allows('operator')) return true;
      core.audit.record(session.current, 'upload-denied', null);
      return false;
    },
    async importUpload(tmpFile, originalName, roomId, cameraId) {
      session.require('operator', 'importing clips');
      const camera = cameraId != null ? cameras.open(cameraId) : null;
      // A folder per upload: two uploads of the same name never collide.
      const folder = fs.mkdtempSync(path.join(path.dirname(tmpFile), 'u-'));
      const named = path.join(folder, path.basename(originalName).replace(/[^\w.-]+/g, '_') || 'upload.mp4');
      fs.renameSync(tmpFile, named);
      try {
        return clipView(
          await core.library.importClip(named, {
            roomId: roomId ?? camera?.roomId ?? null,
            name: path.basename(originalName) || 'upload',
            ...(camera ? { camera: { id: camera.id, masks: camera.masks } } : {}),
          }),
        );
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
      }
    },
    async close() {
      retention.stop();
      live.stopAll();
      await core.close();
    },
  };
}
