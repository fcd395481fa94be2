// `spact raw-data`: where raw data of each room (or one) lives in a library: clip files (copies in
// the data folder, or the user's files for linked clips) and fine-tune runs' cached frames, with
// their sizes and ages. Reads sizes only, never a frame.
import fs from 'node:fs';
import path from 'node:path';

import { openDatabase } from '../../core/db/database.js';
import { LibraryService, type RawDataEntry } from '../../core/library/library-service.js';
import { defaultDataDir } from '../../core/paths.js';
import { parseCommandArgs, printJson, UsageError, type Command } from '../cli-kit.js';

const size = (b: number) =>
  b >= 1 << 30
    ? `${(b / (1 << 30)).toFixed(1)} GiB`
    : b >= 1 << 20
      ? `${(b / (1 << 20)).toFixed(1)} MiB`
      : `${(b / 1024).toFixed(1)} KiB`;

export const rawDataCommand: Command = {
  name: 'raw-data',
  summary: 'list where raw data of a room lives (clip files, runs’ cached frames): sizes and ages',
  usage: `spact raw-data [--room ID|NAME] [--data-dir DIR] [--json]

Lists every place raw footage of a room lives in the library: each clip's raw file (a copy in the
data folder, or the user's own file for a linked clip) and each fine-tune run's cached frames, with
sizes, ages (days since import or since the frames were cached) and the room's retention.
  --room ID|NAME  one room (default: every room)
  --data-dir DIR  the library folder (default: the app data folder)
  --json          print [{"roomId", "name", "retentionDays", "entries": [...], "totalBytes"}] on stdout`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      room: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir());
    const file = path.join(dataDir, 'library.sqlite');
    if (!fs.existsSync(file)) throw new UsageError(`no library in ${dataDir} (library.sqlite is missing)`);
    const db = openDatabase(file);
    try {
      const library = new LibraryService(db, dataDir);
      const rooms = values.room !== undefined ? [library.resolveRoom(values.room)] : library.rooms();
      const report = rooms.map((r) => {
        const entries: RawDataEntry[] = library.rawData(r.id);
        return {
          roomId: r.id,
          name: r.name,
          retentionDays: r.retentionDays,
          entries,
          totalBytes: entries.reduce((a, e) => a + e.bytes, 0),
        };
      });
      if (values.json) {
        printJson(report);
        return 0;
      }
      for (const r of report) {
        const keep = r.retentionDays === null ? 'retention off' : `retention ${r.retentionDays} day(s)`;
        process.stdout.write(`room ${r.roomId} ${r.name}: ${size(r.totalBytes)} of raw data, ${keep}\n`);
        for (const e of r.entries) {
          const what = e.kind === 'run-frames' ? `run ${e.runId} cached frames` : `clip ${e.clipId} (${e.kind})`;
          process.stdout.write(
            `  ${what}\t${e.files} file(s)\t${size(e.bytes)}\t${e.ageDays.toFixed(1)} day(s)\t${e.path}\n`,
          );
        }
      }
      return 0;
    } finally {
      db.close();
    }
  },
};
