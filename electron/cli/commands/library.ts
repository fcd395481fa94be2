// Library commands: enough to script a whole day without the UI.
import { openAppCore, type AppCore } from '../../core/app-core.js';
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

export const roomsCommand: Command = {
  name: 'rooms',
  summary: 'list rooms, or add one (spact rooms add NAME)',
  usage: `spact rooms [add NAME] [--data-dir DIR] [--json]`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { ...dataDirOption, json: { type: 'boolean' } }, true);
    return withCore(values['data-dir'], async (core) => {
      if (positionals[0] === 'add') {
        if (!positionals[1]) throw new UsageError('spact rooms add NAME');
        const room = core.library.createRoom(positionals.slice(1).join(' '));
        if (values.json) printJson(room);
        else progress(`room ${room.id}: ${room.name}`);
        return 0;
      }
      if (positionals.length > 0) throw new UsageError(`unknown rooms action "${positionals[0]}"`);
      const rooms = core.library.rooms();
      if (values.json) printJson(rooms);
      else
        for (const r of rooms)
          process.stdout.write(`${r.id}\t${r.name}\t${r.clips} clip(s)\tmodel ${r.activeModelId ?? 'default'}\n`);
      return 0;
    });
  },
};

export const importCommand: Command = {
  name: 'import',
  summary: 'import video files into the library (copied, or linked with --link)',
  usage: `spact import FILE... [--room NAME|ID] [--link] [--data-dir DIR] [--json]

Probes each file (anything ffmpeg reads), records its sha256 and copies it into the data folder
(--link records the path instead). A room given by name is created when it does not exist.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { ...dataDirOption, room: { type: 'string' }, link: { type: 'boolean' }, json: { type: 'boolean' } },
      true,
    );
    if (positionals.length === 0) throw new UsageError('give at least one FILE to import');
    return withCore(values['data-dir'], async (core) => {
      let roomId: number | null = null;
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
          const clip = await core.library.importClip(file, { roomId, link: Boolean(values.link) });
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
