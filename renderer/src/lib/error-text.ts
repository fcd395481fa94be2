// Errors in words for the people using the app: what happened and what to do. The core's own
// messages are shown when they are already written for people; payload checks (zod wording),
// internal file paths and tool output are replaced by a sentence for their kind. The full
// message stays in the operational log on the main side.
// The .js suffix lets the unit tests (node16 resolution) read this module too.
import type { ErrorKind } from '../../../electron/contract.js';

/** One sentence per error kind the contract can return: the fallback when a message is not fit to show. */
export const KIND_TEXT: Record<ErrorKind, string> = {
  validation: 'Something that was entered was not accepted. Check the form and try again.',
  'unknown-method':
    'This window and the SPAct service are different versions. Reload the page, or restart SPAct Desktop.',
  unauthorized:
    'This window is not signed in to the SPAct service. Open the link printed by `spact serve` again, or restart the app.',
  forbidden: 'Your role does not allow this. Switch role in Settings (the role may need its PIN).',
  'not-found': 'That item no longer exists; it may have been deleted meanwhile. Reload the screen and try again.',
  conflict:
    'That cannot be done right now: something else is using it. Wait for running jobs to finish, then try again.',
  'bad-input':
    'The file could not be used: it is not a video SPAct can read. Check that it plays in a video player, or convert it to MP4 (H.264) and try again.',
  unavailable:
    'Something SPAct needs is not available right now (the engine, a camera, a folder or the service). Check Settings and try again.',
  cancelled: 'It was cancelled. Start it again when you are ready.',
  internal:
    'Something went wrong inside SPAct. Try again; if it happens again, give the operational log (in the data folder) to your administrator.',
};

const KINDS = new Set<string>(Object.keys(KIND_TEXT));

export interface ErrorLike {
  kind?: string;
  message: string;
}

// Data folders and other places whose paths mean nothing to an operator (set at start).
let internalRoots: string[] = [];

/** Paths under these folders are internal: a message naming one is replaced by its kind's sentence. */
export function setInternalRoots(roots: string[]): void {
  internalRoots = roots.filter((r) => r.length > 1);
}

const FIELD_TEXT: Record<string, string> = {
  clipIds: 'Choose at least one clip first.',
  clipId: 'Choose a clip first.',
  roomId: 'Choose a room first.',
  pin: 'A PIN is 6 to 12 digits, numbers only.',
  steps: 'The number of training steps is out of range; use the range shown beside the field.',
  to: 'Give the destination folder as a full path, for example /home/you/exports.',
  name: 'Give a name of 1 to 80 characters.',
  workingSize: 'The working size is out of range; use the range shown beside the field.',
  days: 'Give the number of days as a whole number from 1 to 3650, or leave it empty.',
};

const VIDEO_UNREADABLE =
  'This file is not a video SPAct can read (it may be damaged, still being written, or in an unusual format). Check that it plays in a video player, or convert it to MP4 (H.264) and import it again.';

const bytesText = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${Math.round(b / 2 ** 20)} MiB`);
const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Messages the core writes for developers, and what people are told instead. */
const RULES: { kind?: ErrorKind; test: RegExp; text: (m: RegExpExecArray) => string }[] = [
  {
    test: /^invalid payload for [\w.-]+: (.*)$/s,
    text: (m) => {
      // "field.sub: message; other: message" → the first field that has a sentence.
      for (const issue of m[1]!.split('; ')) {
        const field = issue.split(':')[0]!.trim().split('.')[0]!;
        const text = FIELD_TEXT[field];
        if (text) return text;
      }
      return KIND_TEXT.validation;
    },
  },
  {
    test: /^(.+?) needs the (\w+) role \(current role: (\w+)\)$/,
    text: (m) =>
      `${cap(m[1]!)} needs the ${m[2]} role; you are signed in as ${m[3]}. Switch role in Settings (the role may need its PIN).`,
  },
  {
    test: /the file is empty \(0 bytes\)/,
    text: () => 'This file is empty (0 bytes). Check the file, then import it again.',
  },
  {
    test: /not a readable video|contains no video stream|no frame could be decoded|decoding failed|could not read frames|has no frame size|unknown frame rate|moov atom/,
    text: () => VIDEO_UNREADABLE,
  },
  {
    test: /^clip \d+: its file .* is missing$/,
    text: () => "The clip's video file is missing from the library folder. Delete the clip and import the video again.",
  },
  {
    test: /^the output file of clip (\d+) is missing/,
    text: (m) => `The anonymized video of clip #${m[1]} is missing. Anonymize the clip again, then export.`,
  },
  {
    test: /^no model: /,
    text: () =>
      'No model is installed for anonymizing. An admin can choose one in Settings, or reinstall SPAct Desktop.',
  },
  {
    test: /^upload larger than (\d+) bytes/,
    text: (m) =>
      `This file is larger than the import limit of ${bytesText(Number(m[1]))}. Trim or compress it, or import it in the desktop app.`,
  },
  {
    test: /^(.+?) cannot be reached: .*\((E[A-Z]+)\)$/,
    text: (m) =>
      `${cap(m[1]!)} cannot be reached (${m[2] === 'EACCES' || m[2] === 'EPERM' ? 'no permission' : m[2] === 'ENOENT' ? 'it does not exist' : 'the system refused it'}). Choose another folder.`,
  },
  {
    kind: 'unavailable',
    test: /service is not reachable|Failed to fetch|NetworkError/,
    text: () =>
      'The SPAct service is not answering. Check that the app (or `spact serve`) is still running, then reload the page.',
  },
  { kind: 'cancelled', test: /^cancelled$|was cancelled/, text: () => KIND_TEXT.cancelled },
];

// Zod's wording, stack traces, raw error codes, temporary upload files.
const DEVELOPER_WORDING =
  /invalid payload|Invalid input|Too (small|big)|expected [\w<>=" ]+, received|expected (array|string|number|object)|\bat [\w.<>]+ \(|\b(ENOENT|EACCES|EPERM|EBUSY|ENOSPC|EISDIR|ENOTDIR)\b|upload-[0-9a-f]{8,}\.part|SQLITE_|TypeError|ReferenceError/;

/** True when a message can be shown as it is: written for people, no internal paths. */
export function isForPeople(message: string): boolean {
  if (!message.trim() || message.length > 400) return false;
  if (DEVELOPER_WORDING.test(message)) return false;
  return !internalRoots.some((root) => message.includes(root));
}

function toErrorLike(err: unknown): ErrorLike {
  if (typeof err === 'string') {
    // A failed job's error is stored as "kind: message".
    const m = /^([a-z-]+): (.*)$/s.exec(err);
    return m && KINDS.has(m[1]!) ? { kind: m[1]!, message: m[2]! } : { message: err };
  }
  if (err && typeof err === 'object') {
    const e = err as { kind?: unknown; message?: unknown };
    return {
      ...(typeof e.kind === 'string' ? { kind: e.kind } : {}),
      message: typeof e.message === 'string' ? e.message : String(err),
    };
  }
  return { message: String(err) };
}

/** The sentence to show for an error (an ApiError, an Error with a `kind`, or a bare message). */
export function errorText(err: unknown): string {
  const { kind: rawKind, message } = toErrorLike(err);
  const kind: ErrorKind = rawKind && KINDS.has(rawKind) ? (rawKind as ErrorKind) : 'internal';
  for (const rule of RULES) {
    if (rule.kind && rule.kind !== kind) continue;
    const m = rule.test.exec(message);
    if (m) return rule.text(m);
  }
  return isForPeople(message) ? message : KIND_TEXT[kind];
}
