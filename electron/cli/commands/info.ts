import { readAppInfo } from '../../core/app-info.js';
import { parseCommandArgs, printJson, type Command } from '../cli-kit.js';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show the version and what the engine runs on (libtorch, CUDA, threads)',
  usage: `spact info [--json]`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } });
    const info = readAppInfo('bridge');
    if (values.json) {
      printJson(info);
      return 0;
    }
    const engine = info.engine.available
      ? `libtorch ${info.engine.torchVersion}, ${info.engine.cudaAvailable ? `CUDA (${info.engine.cudaDevices} device(s))` : 'CPU'}, ${info.engine.threads} thread(s)`
      : `unavailable: ${info.engine.reason}`;
    process.stdout.write(`${info.name} ${info.version} on Node ${info.node} (${info.platform})\nengine: ${engine}\n`);
    return info.engine.available ? 0 : 1;
  },
};
