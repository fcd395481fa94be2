// Library commands: enough to script a whole day without the UI.
import { CameraService } from '../../core/cameras/camera-service.js';
import { openAppCore, type AppCore } from '../../core/app-core.js';
import type { Room } from '../../core/library/library-service.js';
import {
  AUTO_FALLBACK_WORKING_SIZE,
  AUTO_MAX_WORKING_SIZE,
  AUTO_TARGET_PERSON_PX,
  parseOutputSize,
  parseWorkingSize,
  WORKING_SIZE_RANGE,
  type OutputSizeMode,
  type WorkingSizeSetting,
} from '../../core/media/working-size.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

const dataDirOption = { 'data-dir': { type: 'string' as const } };

export async function withCore<T>(dataDir: string | undefined, fn: (core: AppCore) => Promise<T>): Promise<T> {
  const core = openAppCore(dataDir ? { dataDir } : {});
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

/** One room as a line: id, name, clips, model, working size (auto: what it resolves to and on what), output size. */
function roomLine(r: Room): string {
  const resolved = r.resolvedWorkingSize
    ? r.resolvedWorkingSize.min === r.resolvedWorkingSize.max
      ? `${r.resolvedWorkingSize.min}`
      : `${r.resolvedWorkingSize.min}–${r.resolvedWorkingSize.max}`
    : null;
  const measured = r.personHeight
    ? r.personHeight.fraction === null
      ? `nobody found in ${r.personHeight.frames} frames`
      : `people ${(100 * r.personHeight.fraction).toFixed(1)}% of the frame height, ${r.personHeight.persons} in ${r.personHeight.frames} frames of ${r.personHeight.files} clip(s)`
    : 'people not measured yet';
  const size =
    r.workingSize === 'auto'
      ? `working size auto${resolved ? ` → ${resolved} px` : ''} (${measured})`
      : `working size ${r.workingSize} px`;
  return `${r.id}\t${r.name}\t${r.clips} clip(s)\tmodel ${r.activeModelId ?? 'default'}\t${size}\toutput ${r.outputSize}`;
}

export const roomsCommand: Command = {
  name: 'rooms',
  summary: 'list rooms, add one, set its working and output size, or re-measure its people',
  usage: `spact rooms [--data-dir DIR] [--json]
spact rooms add NAME
spact rooms set NAME|ID [--working-size auto|N] [--output-size working|source]
spact rooms measure NAME|ID

A room's working size is the short side (pixels, ${WORKING_SIZE_RANGE}) its clips are anonymized at, or
auto (the default): the size at which 80% of the people in the room's clips are at least
${AUTO_TARGET_PERSON_PX} px tall, never above a clip's own short side, at most ${AUTO_MAX_WORKING_SIZE} (with nobody found:
the clip's short side up to ${AUTO_FALLBACK_WORKING_SIZE}).
People are measured once, on the room's first anonymization (a person detector on ~8 frames of its
clips); \`rooms measure\` measures again, e.g. after importing clips from another camera position.
The output size is working (encode at the working size) or source (scale the anonymized frames
back to each clip's own size).`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        ...dataDirOption,
        json: { type: 'boolean' },
        'working-size': { type: 'string' },
        'output-size': { type: 'string' },
      },
      true,
    );
    const action = positionals[0];
    if (action !== 'set' && (values['working-size'] !== undefined || values['output-size'] !== undefined))
      throw new UsageError('--working-size and --output-size go with: spact rooms set NAME|ID');
    const show = (room: Room) => {
      if (values.json) printJson(room);
      else progress(roomLine(room));
      return 0;
    };
    if (action === 'set') {
      if (!positionals[1])
        throw new UsageError('spact rooms set NAME|ID --working-size auto|N --output-size working|source');
      if (values['working-size'] === undefined && values['output-size'] === undefined)
        throw new UsageError('give --working-size auto|N and/or --output-size working|source');
      let change: { workingSize?: WorkingSizeSetting; outputSize?: OutputSizeMode };
      try {
        change = {
          ...(values['working-size'] !== undefined
            ? { workingSize: parseWorkingSize(values['working-size'], '--working-size') }
            : {}),
          ...(values['output-size'] !== undefined
            ? { outputSize: parseOutputSize(values['output-size'], '--output-size') }
            : {}),
        };
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      return withCore(values['data-dir'], async (core) =>
        show(core.library.setRoomSize(core.library.resolveRoom(positionals.slice(1).join(' ')).id, change)),
      );
    }
    return withCore(values['data-dir'], async (core) => {
      if (action === 'add') {
        if (!positionals[1]) throw new UsageError('spact rooms add NAME');
        return show(core.library.createRoom(positionals.slice(1).join(' ')));
      }
      if (action === 'measure') {
        if (!positionals[1]) throw new UsageError('spact rooms measure NAME|ID');
        const room = core.library.resolveRoom(positionals.slice(1).join(' '));
        progress(`measuring people in room "${room.name}" (${room.clips} clip(s))…`);
        return show(await core.anonymize.measureRoom(room.id));
      }
      if (action !== undefined) throw new UsageError(`unknown rooms action "${action}"`);
      const rooms = core.library.rooms();
      if (values.json) printJson(rooms);
      else for (const r of rooms) process.stdout.write(`${roomLine(r)}\n`);
      return 0;
    });
  },
};

export const importCommand: Command = {
  name: 'import',
  summary: 'import video files into the library (copied, or linked with --link)',
  usage: `spact import FILE... [--room NAME|ID] [--camera ID] [--link] [--data-dir DIR] [--json]

Probes each file (anything ffmpeg reads), records its sha256 and copies it, sealed, into the data
folder (--link records the path instead). A room given by name is created when it does not exist.
--camera: the files were recorded by this registered camera: they go to its room (unless --room is
given) and its privacy masks are burned into the stored copy (no --link then).`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        ...dataDirOption,
        room: { type: 'string' },
        camera: { type: 'string' },
        link: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (positionals.length === 0) throw new UsageError('give at least one FILE to import');
    if (values.camera !== undefined && !/^\d+$/.test(values.camera))
      throw new UsageError(`--camera takes a camera id (spact cameras lists them), got "${values.camera}"`);
    return withCore(values['data-dir'], async (core) => {
      const camera =
        values.camera !== undefined
          ? new CameraService(core.db, core.vault, core.audit).open(Number(values.camera))
          : null;
      let roomId: number | null = camera?.roomId ?? null;
      if (values.room) {
        const r = /^\d+$/.test(values.room)
          ? core.library.room(Number(values.room))
          : (core.library.roomByName(values.room) ?? core.library.createRoom(values.room));
        roomId = r.id;
      }
      const imported = [];
      const failed: { file: string; error: string }[] = [];
      for (const file of positionals) {
        try {
          const clip = await core.library.importClip(file, {
            roomId,
            link: Boolean(values.link),
            ...(camera ? { camera: { id: camera.id, masks: camera.masks } } : {}),
          });
          imported.push(clip);
          if (!values.json)
            progress(
              `imported ${file} → clip ${clip.id} (${clip.width}×${clip.height}, ${clip.durationS.toFixed(1)} s)`,
            );
        } catch (err) {
          failed.push({ file, error: (err as Error).message });
          if (!values.json) progress(`spact import: ${(err as Error).message}`);
        }
      }
      if (values.json) printJson({ imported, failed });
      return failed.length ? 1 : 0;
    });
  },
};

export const clipsCommand: Command = {
  name: 'clips',
  summary: 'list clips in the library (with their anonymized outputs)',
  usage: `spact clips [--room NAME|ID] [--data-dir DIR] [--json]`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      ...dataDirOption,
      room: { type: 'string' },
      json: { type: 'boolean' },
    });
    return withCore(values['data-dir'], async (core) => {
      const clips = core.library.clips(values.room ? { roomId: core.library.resolveRoom(values.room).id } : {});
      if (values.json) printJson(clips.map((c) => ({ ...c, outputs: core.anonymize.outputs({ clipId: c.id }) })));
      else {
        for (const c of clips) {
          process.stdout.write(
            `${c.id}\t${c.name}\troom ${c.roomId ?? '-'}\t${c.width}×${c.height}\t${c.durationS.toFixed(1)} s\t${c.outputs} output(s)\n`,
          );
        }
      }
      return 0;
    });
  },
};
