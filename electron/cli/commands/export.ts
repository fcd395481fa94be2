import path from 'node:path';

import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';
import { checkDestination } from '../../core/destinations.js';
import { withCore } from './library.js';

const checkExportFolder = (to: string, overwrite: boolean, overwriteHint: string) =>
  checkDestination(to, 'folder', 'the export folder', { requireEmpty: true, overwrite, overwriteHint });

export const exportCommand: Command = {
  name: 'export',
  summary: 'export anonymized clips (never raw ones) with a manifest for cloud action recognition',
  usage: `spact export --clips ID[,ID…] | --room NAME|ID --to DIR [--force] [--model ID] [--allow-mixed-models] [--include-room] [--actor NAME] [--data-dir DIR] [--json]

Copies each clip's newest anonymized output (or the one by --model) to DIR with manifest.json:
per clip the output's sha256, duration, fps, model id and hash, anonymization settings (and room
id with --include-room); no raw paths and no names. A clip without an output stops the export
before anything is written. The export is recorded in the library and the audit log.

When the clips' newest outputs were made by different models (a model was promoted since some
were anonymized) the export stops and names the models: anonymize those clips again, pick one
with --model, or add --allow-mixed-models (the manifest then says mixedModels and names each
clip's model).

DIR is resolved against the current folder. It must not be on a system file system (/proc, /sys,
/dev), must be creatable and writable, and empty unless --force is given (files of the same name
are then replaced).`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      clips: { type: 'string' },
      room: { type: 'string' },
      to: { type: 'string' },
      force: { type: 'boolean' },
      model: { type: 'string' },
      'allow-mixed-models': { type: 'boolean' },
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
    // Relative to where the user is (never to where the app is installed); checked before the
    // library is opened, off this thread and within 2 s.
    const to = path.resolve(values.to);
    const overwrite = Boolean(values.force);
    const overwriteHint = 'add --force to export into it anyway (files of the same name are replaced)';
    await checkExportFolder(to, overwrite, overwriteHint);
    return withCore(values['data-dir'], async (core) => {
      const job = {
        ...(clipIds ? { clipIds } : { roomId: core.library.resolveRoom(values.room!).id }),
        to,
        overwrite,
        actor: values.actor ?? process.env.USER ?? 'cli',
        includeRoom: Boolean(values['include-room']),
        allowMixedModels: Boolean(values['allow-mixed-models']),
        ...(values.model ? { modelId: core.resolveModel(values.model).id } : {}),
      };
      // A job row, as the app's exports have: if this process is killed, the next start of the app
      // finishes the export from its manifest or labels the folder incomplete (jobs/reconcile.ts).
      const r = await core.jobs.runHere('export', job, () => core.exports.exportClips({ ...job, overwriteHint }));
      if (values.json) printJson(r);
      else progress(`exported ${r.items} anonymized clip(s) to ${r.destination} (manifest: ${r.manifest})`);
      return 0;
    });
  },
};
