// `spact cameras`: the camera registry from the command line (an admin's tool: whoever runs it
// holds the data folder and its passphrase). Sources are stored sealed and printed as the app shows
// them: a URL without its credentials, a file by its base name. Every change is in the audit log.
import fs from 'node:fs';

import { CameraService, type CameraKind, type CameraView } from '../../core/cameras/camera-service.js';
import { validateMasks, type MaskPolygon } from '../../core/cameras/masks.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { withCore } from './library.js';

const KINDS: CameraKind[] = ['local', 'file', 'rtsp', 'http'];

function cameraLine(c: CameraView): string {
  const creds = c.hasCredentials ? ' (credentials stored sealed)' : '';
  return `${c.id}\t${c.name}\t${c.kind}\t${c.source}${creds}\troom ${c.roomId ?? '-'}\t${c.masks.length} mask(s)`;
}

/** Masks from --masks: inline JSON, or @FILE holding it; `none` clears them. */
function readMasks(arg: string): MaskPolygon[] {
  if (arg === 'none') return [];
  let text = arg;
  if (arg.startsWith('@')) {
    try {
      text = fs.readFileSync(arg.slice(1), 'utf8');
    } catch {
      throw new UsageError(`cannot read the masks file ${arg.slice(1)}`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('--masks takes JSON: [[[x,y],[x,y],[x,y],...], ...] in 0..1 frame coordinates');
  }
  try {
    return validateMasks(parsed);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const camerasCommand: Command = {
  name: 'cameras',
  summary: 'list registered cameras, add one, set its privacy masks, or remove it',
  usage: `spact cameras [list] [--room NAME|ID] [--data-dir DIR] [--json]
spact cameras add NAME --kind local|file|rtsp|http --source SOURCE [--room NAME|ID] [--masks JSON|@FILE]
spact cameras set-masks ID --masks JSON|@FILE|none
spact cameras remove ID

The live view opens registered cameras only. SOURCE is a device id (local, captured in the app's
window), an absolute file path (file), or a stream URL (rtsp://user:password@host:554/path, http(s)://…);
it is stored sealed and never printed with its credentials. Privacy masks are polygons in
normalized frame coordinates, e.g. '[[[0.6,0.1],[0.95,0.1],[0.95,0.6],[0.6,0.6]]]' (3–64 points
from 0 to 1 each, at most 16 polygons): blacked out in every frame of the camera before anything
else sees it (live view, clips imported for it). Masks changed later do not change clips imported
before. Every change is in the audit log (--actor NAME, default $USER).`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        'data-dir': { type: 'string' },
        json: { type: 'boolean' },
        kind: { type: 'string' },
        source: { type: 'string' },
        room: { type: 'string' },
        masks: { type: 'string' },
        actor: { type: 'string' },
      },
      true,
    );
    const action = positionals[0] ?? 'list';
    const actor = values.actor ?? process.env.USER ?? 'cli';
    const show = (c: CameraView) => {
      if (values.json) printJson(c);
      else process.stdout.write(`${cameraLine(c)}\n`);
      return 0;
    };
    const id = () => {
      const v = positionals[1];
      if (!v || !/^\d+$/.test(v)) throw new UsageError(`spact cameras ${action} ID`);
      return Number(v);
    };
    if (action === 'add') {
      const name = positionals.slice(1).join(' ');
      if (!name) throw new UsageError('spact cameras add NAME --kind local|file|rtsp|http --source SOURCE');
      if (!values.kind || !KINDS.includes(values.kind as CameraKind))
        throw new UsageError(`--kind is one of ${KINDS.join(', ')}`);
      if (!values.source) throw new UsageError('--source is required');
      const masks = values.masks !== undefined ? readMasks(values.masks) : [];
      return withCore(values['data-dir'], async (core) => {
        const cameras = new CameraService(core.db, core.vault, core.audit);
        const roomId = values.room !== undefined ? core.library.resolveRoom(values.room).id : null;
        return show(
          cameras.create(actor, { name, kind: values.kind as CameraKind, source: values.source!, roomId, masks }),
        );
      });
    }
    if (action === 'set-masks') {
      const cameraId = id();
      if (values.masks === undefined) throw new UsageError('spact cameras set-masks ID --masks JSON|@FILE|none');
      const masks = readMasks(values.masks);
      return withCore(values['data-dir'], async (core) =>
        show(new CameraService(core.db, core.vault, core.audit).update(actor, cameraId, { masks })),
      );
    }
    if (action === 'remove') {
      const cameraId = id();
      return withCore(values['data-dir'], async (core) => {
        new CameraService(core.db, core.vault, core.audit).remove(actor, cameraId);
        if (values.json) printJson({ deleted: cameraId });
        else progress(`removed camera ${cameraId} (its clips stay, masked as they were imported)`);
        return 0;
      });
    }
    if (action !== 'list') throw new UsageError(`unknown cameras action "${action}"`);
    return withCore(values['data-dir'], async (core) => {
      const cameras = new CameraService(core.db, core.vault, core.audit).list(
        values.room !== undefined ? { roomId: core.library.resolveRoom(values.room).id } : {},
      );
      if (values.json) printJson(cameras);
      else for (const c of cameras) process.stdout.write(`${cameraLine(c)}\n`);
      return 0;
    });
  },
};
