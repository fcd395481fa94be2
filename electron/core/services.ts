// Everything the transports need: the dispatcher with a handler for every contract method, the
// event hub, and media resolution with role checks. One instance per running app. The handlers
// live by domain in handlers/; this file makes the shared services and puts the parts together.
import path from 'node:path';

import type { Role } from '../contract.js';
import { ApiDispatcher, type Handlers } from './api-dispatcher.js';
import { openAppCore, registerJobKinds, type AppCore } from './app-core.js';
import { RawViewLog } from './audit/raw-view-log.js';
import { CameraService } from './cameras/camera-service.js';
import { EventHub } from './event-hub.js';
import { auditHandlers } from './handlers/audit.js';
import { appHandlers } from './handlers/app.js';
import { cameraHandlers } from './handlers/cameras.js';
import type { HandlerDeps } from './handlers/deps.js';
import { exportHandlers } from './handlers/exports.js';
import { jobHandlers } from './handlers/jobs.js';
import { workerHandlers } from './handlers/workers.js';
import { clipHandlers, modelHandlers } from './handlers/library.js';
import { liveHandlers } from './handlers/live.js';
import { mediaAccess, type MediaAccess } from './handlers/media.js';
import { roomHandlers } from './handlers/rooms.js';
import { runHandlers } from './handlers/runs.js';
import { sessionHandlers } from './handlers/session.js';
import { readSettings, settingsHandlers } from './handlers/settings.js';
import { jobView } from './handlers/views.js';
import { reconcileFiles } from './jobs/reconcile.js';
import { applyRetention, startRetention } from './library/retention.js';
import { LiveService } from './live/live-service.js';
import { PrivacyAuditStore } from './privacy-audit/audit.js';
import { Judges } from './privacy-audit/judges.js';
import { SessionService } from './session/session-service.js';
import { RunsService } from './training/runs-service.js';
import type { DistributedOptions } from './workers/distributed.js';

/** The core as a shell holds it: contract calls and events, and media (MediaAccess: raw clips
 *  admin only and audited, uploads checked before their body is read). */
export interface CoreServices extends MediaAccess {
  dispatcher: ApiDispatcher;
  events: EventHub;
  core: AppCore;
  session: SessionService;
  close(): Promise<void>;
}

export interface CoreOptions {
  dataDir?: string;
  /** Start as this role (tests, kiosk set-ups); otherwise admin until an admin PIN exists. */
  role?: Role;
  /** Jobs on workers through Redis; default from the environment (SPACT_REDIS_URL), null: embedded. */
  distributed?: DistributedOptions | null;
}

/** How long after start-up the first job (a requeued one included) may start. */
export const JOB_START_DELAY_MS = 300;

export function createCoreServices(opts: CoreOptions = {}): CoreServices {
  // A response or event the contract does not allow (checks on outside production) is reported
  // on stderr and in the operational log; it never reaches a renderer.
  const contractViolation = (message: string): void => {
    console.error(message);
    core.opsLog.log('error', 'contract.violation', { message });
  };
  const events = new EventHub({ onViolation: contractViolation });
  const core = openAppCore({
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.distributed !== undefined ? { distributed: opts.distributed } : {}),
    onJobUpdate: (j) => events.emit('job.updated', jobView(j)),
    registerJobs: false, // below, with the kinds that need these services
  });
  const session = new SessionService(core.db, core.audit, opts.role);

  // The judges take a few seconds to load: once, on the first audit, room run or person measurement.
  let judges: Promise<Judges> | undefined;
  const loadJudges = (): Promise<Judges> => {
    judges ??= Judges.load();
    return judges.catch((e: unknown) => {
      judges = undefined;
      throw e;
    });
  };
  core.anonymize.loadPersonDetector = loadJudges;

  const runs = new RunsService(
    core.db,
    core.library,
    core.dataDir,
    () => core.jobs,
    (e) => events.emit('run.progress', e),
    // Room runs share the audits' judges (loaded once) and cache what they find in the data folder.
    {
      judges: loadJudges,
      cacheDir: path.join(core.dataDir, 'cache', 'judges'),
      measureRoom: (roomId, o) => core.anonymize.measureRoom(roomId, o),
      // Device and threads as the settings say when the run starts (or resumes).
      engine: () => core.anonymize.engineSettings(),
      cipher: core.vault.recordCipher,
    },
  );
  // Privacy audits run as jobs (minutes) and are stored with the output they judged.
  const audits = new PrivacyAuditStore(core.db);
  registerJobKinds(core, { runs, audits, judges: loadJudges });

  const live = new LiveService(
    (f) => events.emit('live.frame', f),
    (e) => events.emit('live.ended', e),
  );
  const deps: HandlerDeps = {
    core,
    session,
    events,
    runs,
    live,
    cameras: new CameraService(core.db, core.vault, core.audit),
    audits,
    rawViews: new RawViewLog((clipId) => core.audit.record('admin', 'raw-view', `clip:${clipId}`)),
    readSettings: () => readSettings(core),
  };

  // Start-up never runs or waits for a job: the rows of interrupted jobs and runs are reconciled
  // now (fast), their files in the background, and the first job starts once both are done and
  // the host has had time to start answering (its server, its window).
  const interrupted = core.jobs.recover();
  runs.reconcile();
  const reconciled = reconcileFiles({ db: core.db, audit: core.audit, dataDir: core.dataDir, interrupted });
  core.jobs.start({ delayMs: JOB_START_DELAY_MS, after: reconciled });
  // Retention (rooms.setRetention): expired raw clips go a moment after start-up, then daily.
  const retention = startRetention(() => applyRetention(core.library, core.audit), { delayMs: JOB_START_DELAY_MS });

  // Every contract method exactly once: each part holds the methods of its prefix, and a method
  // without a handler fails this check at compile time.
  const handlers = {
    ...appHandlers(),
    ...sessionHandlers(deps),
    ...roomHandlers(deps),
    ...clipHandlers(deps),
    ...modelHandlers(deps),
    ...jobHandlers(deps),
    ...workerHandlers(deps),
    ...runHandlers(deps),
    ...exportHandlers(deps),
    ...cameraHandlers(deps),
    ...settingsHandlers(deps),
    ...auditHandlers(deps),
    ...liveHandlers(deps),
  } satisfies Handlers;

  return {
    dispatcher: new ApiDispatcher(handlers, { onViolation: contractViolation }),
    events,
    core,
    session,
    ...mediaAccess(deps),
    async close() {
      retention.stop();
      live.stopAll();
      await core.close();
    },
  };
}
