// The one contract between the renderer and the main side. Every request, response and event is
// declared here with a zod schema; TypeScript types are derived from the schemas. Both transports
// (Electron IPC and the loopback bridge of browser mode) validate inbound payloads against it.
// The renderer imports only types from this file (enforced by lint), except its contract checks
// (renderer/src/lib/contract-checks.ts), which bring zod and these schemas into the page.
import { z } from 'zod';

/** Errors cross process boundaries as data, never as thrown exceptions. */
export const ErrorKind = z.enum([
  'validation', // payload does not match the contract
  'unknown-method',
  'unauthorized', // missing/bad token (bridge) or foreign sender (IPC)
  'forbidden', // role does not allow this call
  'not-found',
  'conflict',
  'bad-input', // e.g. corrupt video, wrong format
  'unavailable', // e.g. native engine missing
  'cancelled',
  'internal',
]);
export type ErrorKind = z.infer<typeof ErrorKind>;

export const ApiError = z.object({
  kind: ErrorKind,
  message: z.string(),
  /** Optional structured detail, e.g. zod issues for validation errors. */
  details: z.unknown().optional(),
});
export type ApiError = z.infer<typeof ApiError>;

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

const Empty = z.object({}).strict();

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  transport: z.enum(['ipc', 'bridge']),
  node: z.string(),
  platform: z.string(),
  engine: z.union([
    z.object({
      available: z.literal(true),
      torchVersion: z.string(),
      cudaAvailable: z.boolean(),
      cudaDevices: z.number().int(),
      threads: z.number().int(),
    }),
    z.object({ available: z.literal(false), reason: z.string() }),
  ]),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const Role = z.enum(['admin', 'operator', 'viewer']);
export type Role = z.infer<typeof Role>;

const Id = z.number().int().positive();

/**
 * PINs: digits only, at most 12. New PINs need at least 6 digits (session.setPin refuses shorter
 * ones with kind 'bad-input'); PINs set before that rule (4–5 digits) keep working until changed,
 * so session.switch accepts 4. The renderer repeats these numbers in a PinRules-typed constant
 * (type-only import, like WORKING_SIZE_LIMITS): the typecheck fails if they ever differ.
 */
export const PIN_RULES = { minNew: 6, minExisting: 4, max: 12 } as const;
export type PinRules = typeof PIN_RULES;
const Pin = z.string().regex(/^\d{4,12}$/, 'a PIN is 4–12 digits');

export const Session = z.object({
  role: Role,
  /** Roles protected by a PIN (switching to them needs it). */
  protectedRoles: z.array(Role),
  /** Roles whose PIN is locked after wrong tries: no PIN is checked for retryAfterS seconds. */
  pinLocks: z.array(z.object({ role: Role, retryAfterS: z.number().int().positive() })),
  /** Admin only (empty for other roles): PIN lockouts an admin has not acknowledged yet. */
  lockouts: z.array(
    z.object({
      id: Id,
      role: Role,
      at: z.string(),
      failures: z.number().int().positive(),
      lockedForS: z.number().int().positive(),
    }),
  ),
});
export type Session = z.infer<typeof Session>;

/**
 * The limits of a working size (short side in pixels): MIN_WORKING_SIZE and MAX_WORKING_SIZE of
 * electron/core/media/working-size.ts, which the CLI and the services use. This module stays free
 * of Node imports (the renderer type-checks it), so they are repeated here; WorkingSizeLimits is a
 * literal type, and working-size.ts and the renderer assign their numbers to it: the typecheck
 * fails if any of them ever differs.
 */
export const WORKING_SIZE_LIMITS = { min: 112, max: 2160 } as const;
export type WorkingSizeLimits = typeof WORKING_SIZE_LIMITS;
const MIN_WORKING_SIZE = WORKING_SIZE_LIMITS.min;
const MAX_WORKING_SIZE = WORKING_SIZE_LIMITS.max;

/** The short side f_A works at, or 'auto' (follows how tall people are in the video). */
export const WorkingSize = z.union([z.literal('auto'), z.number().int().min(MIN_WORKING_SIZE).max(MAX_WORKING_SIZE)]);
export type WorkingSize = z.infer<typeof WorkingSize>;
/** The encoded video at the working size, or scaled back up to the source's size. */
export const OutputSize = z.enum(['working', 'source']);
export type OutputSize = z.infer<typeof OutputSize>;

export const RoomView = z.object({
  id: Id,
  name: z.string(),
  activeModelId: Id.nullable(),
  clips: z.number().int(),
  createdAt: z.string(),
  workingSize: WorkingSize,
  outputSize: OutputSize,
  /** What 'auto' follows: the 20th percentile of people's heights (fraction of the frame height;
   *  null when nobody was found), and what it was measured on. Null until measured. */
  personHeight: z
    .object({
      fraction: z.number().nullable(),
      measuredAt: z.string(),
      frames: z.number().int(),
      files: z.number().int(),
      persons: z.number().int(),
    })
    .nullable(),
  /** What the working size resolves to for the room's clips now (null when it has none). */
  resolvedWorkingSize: z.object({ min: z.number().int(), max: z.number().int() }).nullable(),
  /** Raw clips are deleted this many days after import (null: off). */
  retentionDays: z.number().int().positive().nullable().optional(),
});
export type RoomView = z.infer<typeof RoomView>;

/** Where raw data of a room lives (admin only): clip files and fine-tune runs' cached frames. */
export const RawDataView = z.object({
  roomId: Id,
  entries: z.array(
    z.object({
      kind: z.enum(['clip', 'linked-clip', 'run-frames']),
      clipId: Id.nullable(),
      runId: Id.nullable(),
      path: z.string(),
      files: z.number().int(),
      bytes: z.number().int(),
      since: z.string(),
      ageDays: z.number(),
    }),
  ),
  totalBytes: z.number().int(),
});
export type RawDataView = z.infer<typeof RawDataView>;

export const OutputView = z.object({
  id: Id,
  clipId: Id,
  modelId: Id,
  sha256: z.string(),
  frames: z.number().int(),
  fps: z.number(),
  durationS: z.number(),
  /** Frame size of the encoded video. */
  width: z.number().int(),
  height: z.number().int(),
  /** Frame size f_A worked at (its short side is the resolved working size). */
  workingWidth: z.number().int(),
  workingHeight: z.number().int(),
  outputSize: OutputSize,
  createdAt: z.string(),
});
export type OutputView = z.infer<typeof OutputView>;

/** A clip as every role may see it: no raw path, no raw frames. */
export const ClipView = z.object({
  id: Id,
  roomId: Id.nullable(),
  name: z.string(),
  sha256: z.string(),
  sizeBytes: z.number().int(),
  durationS: z.number(),
  width: z.number().int(),
  height: z.number().int(),
  fps: z.number(),
  importedAt: z.string(),
  outputs: z.array(OutputView),
  /** The registered camera it was imported for (null: none, or removed since). */
  cameraId: Id.nullable().optional(),
  /** The privacy masks burned into its stored copy at import (CameraView.masksHash then; null:
   *  none). Masks changed later do not change a clip imported before. */
  maskHash: z.string().nullable().optional(),
  /** Its newest output was made with another model than the one its room uses now (clips.list;
   *  rooms.reanonymize anonymizes exactly these clips again). */
  olderModel: z.boolean().optional(),
});
export type ClipView = z.infer<typeof ClipView>;

export const ModelView = z.object({
  id: Id,
  name: z.string(),
  sha256: z.string(),
  parentId: Id.nullable(),
  runId: Id.nullable(),
  isDefault: z.boolean(),
  createdAt: z.string(),
});
export type ModelView = z.infer<typeof ModelView>;

/** A worker of the distributed queue (`spact worker`), as its last heartbeat describes it. */
export const WorkerView = z.object({
  id: z.string(),
  host: z.string(),
  device: z.string(),
  threads: z.number().int(),
  concurrency: z.number().int(),
  /** Ids of the jobs it runs now. */
  current: z.array(z.number().int()),
  done: z.number().int(),
  perMinute: z.number(),
  startedAt: z.string(),
  lastSeen: z.string(),
  draining: z.boolean(),
});
export type WorkerView = z.infer<typeof WorkerView>;

export const JobView = z.object({
  id: Id,
  kind: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  progress: z.number(),
  message: z.string().nullable(),
  error: z.string().nullable(),
  result: z.unknown(),
  createdAt: z.string(),
  /** The clip the job works on (anonymize, audit), when it works on one. */
  clipId: z.number().int().nullable().optional(),
});
export type JobView = z.infer<typeof JobView>;

export const MetricPoint = z.object({
  step: z.number().int(),
  phase: z.string(),
  loss_T: z.number().nullable(),
  loss_B: z.number().nullable(),
  l1: z.number().nullable(),
});
export type MetricPoint = z.infer<typeof MetricPoint>;

export const ExportView = z.object({
  id: Id,
  destination: z.string(),
  items: z.number().int(),
  actor: z.string(),
  createdAt: z.string(),
  /** 'failed': an export job that stopped (id is then the job's; items 0), with its reason. */
  status: z.enum(['done', 'failed']).optional(),
  error: z.string().nullable().optional(),
  /** The models that made the exported clips (from the manifest). */
  models: z.array(z.object({ id: Id, clips: z.number().int() })).optional(),
});
export type ExportView = z.infer<typeof ExportView>;

/** What an export would take: per clip its newest output and the model that made it. */
export const ExportPlanView = z.object({
  items: z.array(
    z.object({
      clipId: Id,
      name: z.string(),
      outputId: Id.nullable(),
      modelId: Id.nullable(),
      modelName: z.string().nullable(),
    }),
  ),
  models: z.array(z.object({ id: Id, name: z.string(), clips: z.number().int() })),
  /** More than one model made the outputs: exports.start refuses unless allowMixedModels. */
  mixed: z.boolean(),
  /** Clips without an anonymized output. */
  missing: z.array(Id),
  /** A room plan: the room's active model (null: the default). */
  activeModelId: Id.nullable(),
});
export type ExportPlanView = z.infer<typeof ExportPlanView>;

/** One folder of the browser-mode folder picker (only below the allowed roots). */
export const FolderListing = z.object({
  /** The folders a destination may be chosen under. */
  roots: z.array(z.string()),
  /** The folder listed (its real path); null: the roots are listed. */
  path: z.string().nullable(),
  /** Its parent, when that is still under a root. */
  parent: z.string().nullable(),
  folders: z.array(z.object({ name: z.string(), path: z.string() })),
  /** Files and folders in it (a non-empty folder is confirmed before an export writes into it). */
  entries: z.number().int(),
});
export type FolderListing = z.infer<typeof FolderListing>;

/** The memory budget setting's limits and default, MiB: MEMORY_BUDGET_MIB of native-models/ts/anonymizer.ts.
 *  anonymize-service.ts and the Settings screen assign theirs to MemoryBudgetLimits: the typecheck
 *  fails if they ever differ. */
export const MEMORY_BUDGET_LIMITS = { default: 2048, min: 1280, max: 65536 } as const;
export type MemoryBudgetLimits = typeof MEMORY_BUDGET_LIMITS;

export const Settings = z
  .object({
    /** Where the library lives: chosen at start (SPACT_DATA_DIR, --data-dir), shown, never set here. */
    dataDir: z.string().min(1),
    /** Compute device of new jobs and live streams: auto (CUDA when present), cpu, cuda or cuda:N. */
    device: z.string().regex(/^(auto|cpu|cuda(:\d{1,2})?)$/, 'device must be auto, cpu, cuda or cuda:N'),
    /** libtorch threads of new jobs and live streams; 0: all cores. */
    threads: z.number().int().min(0).max(256),
    /** Memory an anonymization (job, live stream) may use, MiB: sets how many pixels one f_A call holds. */
    memoryBudgetMiB: z.number().int().min(MEMORY_BUDGET_LIMITS.min).max(MEMORY_BUDGET_LIMITS.max),
    defaultModelId: Id.nullable(),
    /** Default working size for clips without a room ('auto' or a short side in pixels). */
    inputSize: WorkingSize,
    /** Default output size for clips without a room. */
    outputSize: OutputSize,
    keepAudio: z.boolean(),
  })
  .strict();
export type Settings = z.infer<typeof Settings>;

export const AuditView = z.object({
  id: Id,
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  object: z.string().nullable(),
  details: z.unknown(),
  /** The entry in words, with the names of what it is about ("admin deleted clip 'Kitchen 3' (room
   *  Kitchen)"), resolved when listed; the ids stay in object and details. */
  text: z.string().optional(),
});

/**
 * Privacy masks of a camera: polygons of [x, y] points in normalized frame coordinates (0..1, x to
 * the right, y down), blacked out in every raw frame before anything else sees it (pixel centres,
 * even-odd rule). MASK_LIMITS of electron/core/cameras/masks.ts assigns its numbers to this type.
 */
export const CAMERA_MASK_LIMITS = { maxPolygons: 16, minPoints: 3, maxPoints: 64 } as const;
export type CameraMaskLimits = typeof CAMERA_MASK_LIMITS;
const Unit = z.number().min(0).max(1);
export const MaskPolygon = z
  .array(z.tuple([Unit, Unit]))
  .min(CAMERA_MASK_LIMITS.minPoints)
  .max(CAMERA_MASK_LIMITS.maxPoints);
export const CameraMasks = z.array(MaskPolygon).max(CAMERA_MASK_LIMITS.maxPolygons);
export type CameraMasks = z.infer<typeof CameraMasks>;

/** local: a device captured in the renderer (source: its device id); file: a video file the core
 *  reads; rtsp / http: a stream URL (credentials allowed, stored sealed, never sent back). */
export const CameraKind = z.enum(['local', 'file', 'rtsp', 'http']);
export type CameraKind = z.infer<typeof CameraKind>;

/** A registered camera as every role sees it: never a credential, never a file's path. */
export const CameraView = z.object({
  id: Id,
  roomId: Id.nullable(),
  name: z.string(),
  kind: CameraKind,
  /** A URL without its userinfo and query (rtsp://host:554/path), a file's base name, a device id. */
  source: z.string(),
  /** The stored URL carries a user, password or token (never sent). */
  hasCredentials: z.boolean(),
  masks: CameraMasks,
  /** sha256 of the masks (null without masks); a clip records the one it was imported with. */
  masksHash: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string().nullable(),
});
export type CameraView = z.infer<typeof CameraView>;
const CameraName = z.string().trim().min(1).max(80);
const CameraSource = z.string().trim().min(1).max(2048);

const Rgb = z.string().max(8_000_000); // base64 RGB frame
/** An RGB frame as bytes (live.frame): structured clone over IPC, a binary WebSocket message in
 *  browser mode (electron/core/bridge/binary-event.ts), never base64. */
const RgbBytes = z.custom<Uint8Array>((b) => b instanceof Uint8Array, 'expected an RGB frame as bytes');
/** A frame's side: the working size's short side (≤ 2160) or a long side of a wide camera. */
const FrameSide = z.number().int().min(1).max(8192);

/** A share in [0, 1] (rank-1, recall, agreement). */
const Rate = z.number().min(0).max(1);
const Count = z.number().int().min(0);

/** One identity attacker of the privacy audit: rank-1 (how often it picks the right person) on the
 *  anonymized video, on the raw video (its ceiling) and on grey silhouettes (shape only). */
export const AuditAttackerView = z.object({
  id: z.enum(['appearance-reid', 'cnn-raw', 'colour-raw', 'linkage', 'cnn-anonymized', 'colour-anonymized']),
  /** What the attacker holds: raw pictures of the people, or only the anonymized footage. */
  holds: z.enum(['raw', 'anonymized']),
  label: z.string(),
  anonymized: Rate,
  raw: Rate,
  silhouette: Rate,
});
export type AuditAttackerView = z.infer<typeof AuditAttackerView>;

/** The privacy audit of an anonymized video against its raw source (VideoAuditReport of
 *  electron/core/privacy-audit/video-audit.ts, field for field). */
export const VideoAuditReportView = z.object({
  /** What was judged: a window of consecutive frames at the judges' size. */
  window: z.object({
    startS: z.number().min(0),
    endS: z.number().min(0),
    frames: Count,
    fps: z.number().positive(),
    width: Count,
    height: Count,
  }),
  /** People followed on the raw video; usable = with enough gallery and probe pictures. */
  tracks: z.object({ total: Count, usable: Count, galleryCrops: Count, probeCrops: Count }),
  identity: z.object({
    /** 1 / usable people: what guessing scores (null when fewer than 2 people can be told apart). */
    chance: Rate.nullable(),
    attackers: z.array(AuditAttackerView),
    worstWithRaw: Rate.nullable(),
    worstAnonymizedOnly: Rate.nullable(),
    worst: Rate.nullable(),
    silhouetteWorstWithRaw: Rate.nullable(),
    silhouetteWorstAnonymizedOnly: Rate.nullable(),
  }),
  utility: z.object({
    personsOnRaw: Count,
    personRecall: Rate.nullable(),
    keypointsOnRaw: Count,
    poseAgreement: Rate.nullable(),
  }),
  faces: z.object({
    framesJudged: Count,
    onRaw: Count,
    onAnonymized: Count,
    reid: z.array(
      z.object({
        judge: z.enum(['human', 'face-api']),
        identities: Count,
        rank1: Rate,
        rank1RawVsRaw: Rate,
        chance: Rate,
      }),
    ),
    rank1: Rate.nullable(),
    genderAgreement: Rate.nullable(),
  }),
  /** Plain-words reading of the figures. */
  verdict: z.object({
    identity: z.enum(['inconclusive', 'identifiable', 'beyond-shape', 'shape-only']),
    utility: z.enum(['inconclusive', 'people-lost', 'people-kept']),
    summary: z.string(),
  }),
});
export type VideoAuditReportView = z.infer<typeof VideoAuditReportView>;

/** A stored privacy audit of one anonymized output of a clip. */
export const AuditReportView = z.object({
  id: Id,
  clipId: Id,
  outputId: Id,
  modelId: Id,
  /** The role that asked for it. */
  actor: z.string(),
  createdAt: z.string(),
  report: VideoAuditReportView,
});
export type AuditReportView = z.infer<typeof AuditReportView>;

/** The fine-tune recipes: 'room' (real cameras: the judges' pseudo-labels, the model chosen on
 *  held-out footage by the privacy audit) and 'synthroom' (SynthRoom-style synthetic rooms:
 *  distillation from the base action model). */
export const FinetuneRecipe = z.enum(['room', 'synthroom']);
export type FinetuneRecipe = z.infer<typeof FinetuneRecipe>;

/** The privacy audit of one model on a room's held-out footage (AuditSummary of
 *  electron/core/training/room-selection.ts, field for field). */
export const RunAuditSummary = z.object({
  /** People followed long enough to test identity. */
  tracks: Count,
  chance: Rate.nullable(),
  worstWithRaw: Rate.nullable(),
  worstAnonymizedOnly: Rate.nullable(),
  silhouetteWorstWithRaw: Rate.nullable(),
  silhouetteWorstAnonymizedOnly: Rate.nullable(),
  personRecall: Rate.nullable(),
  poseAgreement: Rate.nullable(),
  verdict: z.string(),
});
export type RunAuditSummary = z.infer<typeof RunAuditSummary>;

/** How a room run chose its model (RUN_DIR/selection.json, without file paths): the audit of the
 *  base model ("before") and of every checkpoint on footage held out of training. */
export const RunSelectionView = z.object({
  /** The held-out part: a clip of the room (by name; clipId null when it is no longer in the library). */
  part: z.object({ clipId: Id.nullable(), name: z.string(), startS: z.number().min(0), endS: z.number().min(0) }),
  workingSize: z.number().int().positive(),
  rule: z.string(),
  /** The base model on the same footage (null for a model trained from scratch). */
  base: RunAuditSummary.nullable(),
  candidates: z.array(z.object({ name: z.string(), minimaxStep: Count, chosen: z.boolean(), audit: RunAuditSummary })),
  warnings: z.array(z.string()),
});
export type RunSelectionView = z.infer<typeof RunSelectionView>;

export const RunView = z.object({
  id: Id,
  kind: z.enum(['train', 'finetune']),
  roomId: Id.nullable(),
  recipe: FinetuneRecipe,
  status: z.enum(['queued', 'running', 'done', 'failed', 'cancelled']),
  progress: z.number(),
  steps: z.number().int(),
  /** Room runs: the working size the footage was labelled and trained at (null until known). */
  workingSize: z.number().int().positive().nullable(),
  error: z.string().nullable(),
  modelId: Id.nullable(),
  createdAt: z.string(),
  /** When training first started (null: never ran); with finishedAt, the time taken. */
  startedAt: z.string().nullable().optional(),
  finishedAt: z.string().nullable(),
  final: z.record(z.string(), z.number()).nullable(),
  /** The last step trained and its phase (null: none yet). */
  lastStep: z.object({ step: z.number().int(), phase: z.string() }).nullable().optional(),
  /** Room runs: the audit before and after on held-out footage (null when none was held out). */
  selection: RunSelectionView.nullable(),
  /** What the run warned about (e.g. footage too short to hold a part out). */
  warnings: z.array(z.string()),
});
export type RunView = z.infer<typeof RunView>;

/** Every call the renderer can make: channel name → request and response schemas. */
export const methods = {
  'app.info': { request: Empty, response: AppInfo },
  'session.get': { request: Empty, response: Session },
  'session.switch': { request: z.object({ role: Role, pin: Pin.optional() }).strict(), response: Session },
  /** New PINs: PIN_RULES.minNew digits or more. Setting a role's PIN also lifts its lockout. */
  'session.setPin': { request: z.object({ role: Role, pin: Pin.nullable() }).strict(), response: Session },
  /** Admin: marks the listed lockouts (Session.lockouts) as seen. */
  'session.ackLockouts': { request: Empty, response: Session },

  'rooms.list': { request: Empty, response: z.array(RoomView) },
  'rooms.create': { request: z.object({ name: z.string().trim().min(1).max(80) }).strict(), response: RoomView },
  'rooms.setModel': { request: z.object({ roomId: Id, modelId: Id.nullable() }).strict(), response: RoomView },
  /** A room's working size and/or output size. */
  'rooms.setSize': {
    request: z
      .object({ roomId: Id, workingSize: WorkingSize.optional(), outputSize: OutputSize.optional() })
      .strict()
      .refine((r) => r.workingSize !== undefined || r.outputSize !== undefined, 'give workingSize and/or outputSize'),
    response: RoomView,
  },
  /** Measures again how tall people are in a room's clips (what its 'auto' working size follows); seconds. */
  'rooms.measure': { request: z.object({ roomId: Id }).strict(), response: RoomView },
  /** Deletes a room and everything of it (clips, outputs, thumbnails, runs' cached frames). */
  'rooms.delete': {
    request: z.object({ roomId: Id }).strict(),
    response: z.object({ deleted: Id, clips: z.array(Id), files: z.number().int(), bytes: z.number().int() }),
  },
  /** Admin: raw clips of the room are deleted this many days after import (null: off). */
  'rooms.setRetention': {
    request: z.object({ roomId: Id, days: z.number().int().min(1).max(3650).nullable() }).strict(),
    response: RoomView,
  },
  /** Admin: anonymizes again the room's clips whose newest output was made with another model
   *  than the room's current one (ClipView.olderModel), with the current one; audited. */
  'rooms.reanonymize': {
    request: z.object({ roomId: Id }).strict(),
    response: z.object({ modelId: Id, clipIds: z.array(Id), jobIds: z.array(Id) }),
  },
  /** Admin: where raw data of a room lives (files, sizes, ages). */
  'rooms.rawData': { request: z.object({ roomId: Id }).strict(), response: RawDataView },

  'clips.list': { request: z.object({ roomId: Id.nullable().optional() }).strict(), response: z.array(ClipView) },
  /** cameraId: the clips come from that registered camera: its privacy masks are burned into the
   *  stored copies (re-encoded), and they go to its room unless roomId says otherwise. */
  'clips.import': {
    request: z
      .object({
        paths: z.array(z.string().min(1)).min(1).max(500),
        roomId: Id.nullable().optional(),
        cameraId: Id.optional(),
      })
      .strict(),
    response: z.object({
      imported: z.array(ClipView),
      failed: z.array(z.object({ file: z.string(), error: z.string() })),
    }),
  },
  'clips.delete': { request: z.object({ id: Id }).strict(), response: z.object({ deleted: Id }) },
  /** Admin: moves clips to another room (null: no room); audited, one entry per clip. */
  'clips.move': {
    request: z.object({ clipIds: z.array(Id).min(1).max(500), roomId: Id.nullable() }).strict(),
    response: z.object({ moved: z.array(Id) }),
  },
  'clips.anonymize': {
    request: z.object({ clipIds: z.array(Id).min(1).max(500), modelId: Id.nullable().optional() }).strict(),
    response: z.object({ jobIds: z.array(Id) }),
  },
  /** Raw playback: admin only, audited. The main side refuses every other role. */
  'clips.rawAccess': { request: z.object({ clipId: Id }).strict(), response: z.object({ granted: z.literal(true) }) },

  /** Privacy audit of a clip's newest anonymized output with independent pretrained judges: a job
   *  (minutes; progress as job.updated events, cancel with jobs.cancel) that stores its report.
   *  The window judged starts at startS (default 0) and ends at endS (default: 30 s later or the
   *  clip's end). A clip already being audited answers with that job. */
  'clips.audit': {
    request: z
      .object({ clipId: Id, startS: z.number().min(0).optional(), endS: z.number().positive().optional() })
      .strict()
      .refine((r) => r.startS === undefined || r.endS === undefined || r.startS < r.endS, 'startS must be before endS'),
    response: z.object({ jobId: Id, clipId: Id, outputId: Id }),
  },
  /** The latest stored audit of a clip (of one of its outputs when outputId is given), and the
   *  clip's audit job while one is queued or running. */
  'clips.auditReport': {
    request: z.object({ clipId: Id, outputId: Id.optional() }).strict(),
    response: z.object({ audit: AuditReportView.nullable(), job: JobView.nullable() }),
  },
  'models.list': { request: Empty, response: z.array(ModelView) },
  'jobs.list': { request: Empty, response: z.array(JobView) },
  'jobs.cancel': { request: z.object({ id: Id }).strict(), response: JobView },
  /** Admin: where jobs run (embedded: in the app; bullmq: on workers) and the workers online. */
  'workers.list': {
    request: Empty,
    response: z.object({ mode: z.enum(['embedded', 'bullmq']), workers: z.array(WorkerView) }),
  },
  /** Admin: the worker finishes its current jobs, takes no more and exits. */
  'workers.drain': {
    request: z.object({ id: z.string().min(1).max(200) }).strict(),
    response: z.object({ id: z.string() }),
  },

  'runs.list': { request: Empty, response: z.array(RunView) },
  'runs.get': { request: z.object({ runId: Id }).strict(), response: RunView },
  'runs.start': {
    request: z
      .object({
        roomId: Id,
        baseModelId: Id.nullable().optional(),
        /** Default 'room'. */
        recipe: FinetuneRecipe.optional(),
        /** Minimax steps; default per recipe (room 300, synthroom 200). */
        steps: z.number().int().min(1).max(100_000).optional(),
        /** synthroom: clips sampled from the footage (default 256). */
        clips: z.number().int().min(4).max(20_000).optional(),
      })
      .strict()
      .refine((r) => r.clips === undefined || r.recipe === 'synthroom', {
        message: 'clips belongs to the synthroom recipe',
        path: ['clips'],
      }),
    response: RunView,
  },
  'runs.cancel': { request: z.object({ runId: Id }).strict(), response: RunView },
  'runs.resume': { request: z.object({ runId: Id }).strict(), response: RunView },
  'runs.metrics': { request: z.object({ runId: Id }).strict(), response: z.array(MetricPoint) },
  'runs.promote': { request: z.object({ runId: Id, roomId: Id }).strict(), response: RoomView },

  'exports.start': {
    request: z
      .object({
        clipIds: z.array(Id).min(1).optional(),
        roomId: Id.optional(),
        /** An absolute path: the main side refuses relative ones, system file systems (/proc…)
         *  and folders it cannot create or write to (error details.reason says which). */
        to: z.string().min(1),
        includeRoom: z.boolean().optional(),
        /** Export into a folder that is not empty (files of the same name are replaced). Without
         *  it such a folder is refused with kind 'conflict' and details.reason 'not-empty'. */
        overwrite: z.boolean().optional(),
        /** Export clips anonymized by different models. Without it such an export is refused with
         *  kind 'conflict' and details.reason 'mixed-models' (details.models names them). */
        allowMixedModels: z.boolean().optional(),
      })
      .strict()
      .refine((r) => Boolean(r.clipIds) !== Boolean(r.roomId), 'give either clipIds or roomId'),
    response: z.object({ jobId: Id }),
  },
  /** Failed export jobs are listed too (status 'failed', with their reason). */
  'exports.list': { request: Empty, response: z.array(ExportView) },
  /** Operator: which output and model each clip of an export would take. */
  'exports.plan': {
    request: z
      .object({ clipIds: z.array(Id).min(1).optional(), roomId: Id.optional() })
      .strict()
      .refine((r) => Boolean(r.clipIds) !== Boolean(r.roomId), 'give either clipIds or roomId'),
    response: ExportPlanView,
  },
  /** Operator: the folders under an allowed root (browser mode's folder picker); no path: the roots.
   *  Absolute paths only; anything outside the roots (.., symbolic links) is refused. */
  'exports.browse': { request: z.object({ path: z.string().min(1).optional() }).strict(), response: FolderListing },

  /** Every role: the registered cameras (of one room when given), without credentials. */
  'cameras.list': { request: z.object({ roomId: Id.optional() }).strict(), response: z.array(CameraView) },
  /** Admin: registers a camera (audited, never with its source). */
  'cameras.create': {
    request: z
      .object({
        name: CameraName,
        roomId: Id.nullable().optional(),
        kind: CameraKind,
        source: CameraSource,
        masks: CameraMasks.optional(),
      })
      .strict(),
    response: CameraView,
  },
  /** Admin: changes a camera's name, room, source (with its kind) and/or masks (audited). */
  'cameras.update': {
    request: z
      .object({
        cameraId: Id,
        name: CameraName.optional(),
        roomId: Id.nullable().optional(),
        kind: CameraKind.optional(),
        source: CameraSource.optional(),
        masks: CameraMasks.optional(),
      })
      .strict()
      .refine(
        (r) => r.name !== undefined || r.roomId !== undefined || r.source !== undefined || r.masks !== undefined,
        'give a name, roomId, source or masks',
      ),
    response: CameraView,
  },
  /** Admin: removes a camera; its clips stay, masked as they were imported. */
  'cameras.delete': { request: z.object({ cameraId: Id }).strict(), response: z.object({ deleted: Id }) },

  'settings.get': { request: Empty, response: Settings },
  // The data folder is not a setting (it holds the settings): chosen at start, refused here.
  'settings.set': { request: Settings.omit({ dataDir: true }).partial().strict(), response: Settings },
  'audit.list': { request: Empty, response: z.array(AuditView) },

  /** One frame of a local camera (captured in the renderer) through f_A. With the cameraId of a
   *  registered local camera its privacy masks are blacked out first (every role); without one
   *  (ad-hoc capture) the operator role is needed. */
  'live.anonymizeFrame': {
    request: z
      .object({
        width: z.number().int().min(8).max(1920),
        height: z.number().int().min(8).max(1080),
        rgb: Rgb,
        modelId: Id.nullable().optional(),
        cameraId: Id.optional(),
      })
      .strict(),
    response: z.object({ width: z.number().int(), height: z.number().int(), rgb: Rgb, ms: z.number() }),
  },
  /** A registered file or RTSP/HTTP camera, decoded on the main side, masked and anonymized frame by
   *  frame; frames arrive as events. Only registered cameras: no path or URL is ever taken here. */
  'live.start': {
    request: z
      .object({
        cameraId: Id,
        modelId: Id.nullable().optional(),
        showRaw: z.boolean().optional(),
        size: z.number().int().min(MIN_WORKING_SIZE).max(MAX_WORKING_SIZE).optional(),
      })
      .strict(),
    response: z.object({ streamId: Id }),
  },
  'live.stop': { request: z.object({ streamId: Id }).strict(), response: z.object({ stopped: Id }) },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type RequestOf<M extends MethodName> = z.input<Methods[M]['request']>;
export type ResponseOf<M extends MethodName> = z.output<Methods[M]['response']>;

/** Events pushed from the main side to the renderer. */
export const events = {
  'app.heartbeat': z.object({ at: z.number() }),
  'job.updated': JobView,
  'run.progress': z.object({
    runId: Id,
    status: RunView.shape.status,
    phase: z.string(),
    step: z.number().int(),
    minimaxStep: z.number().int(),
    minimaxSteps: z.number().int(),
    stats: z.record(z.string(), z.number()),
    etaSeconds: z.number().nullable(),
    /** What the run is doing in words (labelling the footage, choosing the model, …). */
    message: z.string().optional(),
  }),
  'live.frame': z
    .object({
      streamId: Id,
      width: FrameSide,
      height: FrameSide,
      anonymized: RgbBytes,
      /** Only ever set for the admin role. */
      raw: RgbBytes.optional(),
      fps: z.number(),
      latencyMs: z.number(),
    })
    // Sized by its own geometry (a 1080p frame is 6.2 MB), not by a fixed cap.
    .refine(
      (f) => [f.anonymized, f.raw].every((b) => b === undefined || b.byteLength === f.width * f.height * 3),
      'a frame must hold width × height × 3 bytes',
    ),
  'live.ended': z.object({ streamId: Id, error: z.string().nullable() }),
  'session.changed': Session,
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventOf<E extends EventName> = z.output<Events[E]>;

export { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL } from './ipc-channels.js';

/** A zod failure in one line: `path: message; …` (the core's and the renderer's contract checks). */
export const describeIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methods, name);
}

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}

export type MediaKind = 'output' | 'clip' | 'thumb';

/** The API as the renderer sees it, whatever the transport (IPC in Electron, HTTP+WS in a browser). */
export interface SpactApi {
  call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<Result<ResponseOf<M>>>;
  on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void;
  /** URL of a media file for <video>/<img> (output: anonymized clip; clip: raw, admin only; thumb: of an output). */
  mediaUrl(kind: MediaKind, id: number): string;
  /** Imports files chosen in a picker or dropped on the window. */
  /** `cameraId`: the files were recorded by this registered camera (its privacy masks are burned in). */
  importFiles(
    files: File[],
    roomId: number | null,
    cameraId?: number | null,
  ): Promise<Result<ResponseOf<'clips.import'>>>;
  /** Electron only: the native folder dialog (null: cancelled). Browser mode uses exports.browse. */
  pickFolder?(title: string): Promise<string | null>;
}
