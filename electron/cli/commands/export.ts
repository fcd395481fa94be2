import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { withCore } from './library.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'export anonymized clips (never raw ones) with a manifest for cloud action recognition',
  usage: `spact export --clips ID[,ID…] | --room NAME|ID --to DIR [--model ID] [--include-room] [--actor NAME] [--data-dir DIR] [--json]

Copies each clip's newest anonymized output (or the one by --model) to DIR with manifest.json:
per clip the output's sha256, duration, fps, model id and hash, anonymization settings (and room
id with --include-room); no raw paths and no names. A clip without an output stops the export
before anything is written. The export is recorded in the library and the audit log.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      clips: { type: 'string' },
      room: { type: 'string' },
      to: { type: 'string' },
      model: { type: 'string' },
      'include-room': { type: 'boolean' },
      actor: { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!values.to) throw new UsageError('--to DIR is required');
    if (!values.clips === !values.room) throw new UsageError('give either --clips or --room');
    const clipIds = values.clips?.split(',').map((s) => Number(s.trim()));
    if (clipIds?.some((i) => !Number.isInteger(i) || i < 1))
      throw new UsageError('--clips takes clip ids, e.g. --clips 3,4');
    return withCore(values['data-dir'], async (core) => {
      const r = await core.exports.exportClips({
        ...(clipIds ? { clipIds } : { roomId: core.library.resolveRoom(values.room!).id }),
        to: values.to!,
        actor: values.actor ?? process.env.USER ?? 'cli',
        includeRoom: Boolean(values['include-room']),
        ...(values.model ? { modelId: core.resolveModel(values.model).id } : {}),
      });
      if (values.json) printJson(r);
      else progress(`exported ${r.items} anonymized clip(s) to ${r.destination} (manifest: ${r.manifest})`);
      return 0;
    });
  },
};
