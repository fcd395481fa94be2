import path from 'node:path';

import { BridgeServer } from '../../core/bridge/bridge-server.js';
import { openAppWindow } from '../../core/browser-launcher.js';
import { defaultDataDir, rendererDir } from '../../core/paths.js';
import { queueNameOf } from '../../core/jobs/bullmq-queue.js';
import { CoreClient, forkHostLauncher } from '../../core/host/core-client.js';
import type { CoreHandle, CoreHostOptions } from '../../core/host/core-host-protocol.js';
import { inProcessCore } from '../../core/host/in-process-core.js';
import { createCoreServices } from '../../core/services.js';
import { unlockFromEnvironment, Vault } from '../../core/vault/vault.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the app in browser mode (core on 127.0.0.1 with a per-start token)',
  usage: `spact serve [--port N] [--no-open] [--data-dir DIR] [--role admin|operator|viewer] [--json] [--in-process]

Starts the SPAct core in its own process and serves the UI on http://127.0.0.1:PORT. The page
receives the access token through a one-time launch link, which is opened in a Chromium app window
when a display exists (--no-open prints it instead). Every API request and WebSocket needs the token.
  --port N     port to listen on (default: a free port)
  --no-open    do not open a window; print the launch link
  --data-dir   the library folder (default: the app data folder)
  --role       start as this role (default: admin until an admin PIN is set, then viewer)
  --json       print {"url", "port"} on stdout once listening
  --in-process run the core in the server's own process (comparisons in bench:latency)
  --redis URL  run anonymize jobs and fine-tune training on workers (\`spact worker\`) through BullMQ on this Redis
  --worker-listen HOST:PORT  the workers' data channel (default 127.0.0.1:7643; off loopback it
               needs --worker-cert and --worker-key, PEM files: it is served over TLS)
  --queue NAME the queue's name on that Redis (default spact-jobs): two apps sharing one Redis
               need two names; their workers are given the same --queue`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      port: { type: 'string' },
      'no-open': { type: 'boolean' },
      'data-dir': { type: 'string' },
      role: { type: 'string' },
      json: { type: 'boolean' },
      'in-process': { type: 'boolean' },
      redis: { type: 'string' },
      'worker-listen': { type: 'string' },
      'worker-cert': { type: 'string' },
      'worker-key': { type: 'string' },
      queue: { type: 'string' },
    });
    if (values.redis) {
      // The core (its own process, or this one) reads these (workers/distributed.ts).
      process.env.SPACT_REDIS_URL = values.redis;
      process.env.SPACT_WORKER_LISTEN = values['worker-listen'] ?? '127.0.0.1:7643';
      if (values.queue) process.env.SPACT_QUEUE = queueNameOf(values.queue);
      if (values['worker-cert'] && values['worker-key']) {
        process.env.SPACT_WORKER_TLS_CERT = path.resolve(values['worker-cert']);
        process.env.SPACT_WORKER_TLS_KEY = path.resolve(values['worker-key']);
      }
    }
    if (values.role && !['admin', 'operator', 'viewer'].includes(values.role))
      throw new UsageError('--role must be admin, operator or viewer');
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--port must be 0–65535, got "${values.port}"`);

    // The server's side opens the vault too: it seals uploads as they arrive and decrypts the
    // ranges of raw playback (the key comes from the passphrase, never from the host process).
    const vault = Vault.open(path.resolve(values['data-dir'] ?? defaultDataDir()), unlockFromEnvironment());
    const options: CoreHostOptions = {
      ...(values['data-dir'] ? { dataDir: path.resolve(values['data-dir']) } : {}),
      ...(values.role ? { role: values.role as 'admin' | 'operator' | 'viewer' } : {}),
    };
    // The server's thread only moves bytes; queries, hashes and child processes run in the host.
    const core: CoreHandle = values['in-process']
      ? inProcessCore(createCoreServices(options))
      : await CoreClient.start(forkHostLauncher(), options, (reason) => progress(`${reason}; restarting it`));
    const bridge = new BridgeServer({
      dispatcher: core,
      events: core.events,
      staticDir: rendererDir(),
      port,
      media: (kind, id) => core.resolveMedia(kind, id),
      upload: {
        dir: path.join(core.dataDir, 'uploads'),
        maxBytes: 4 * 2 ** 30,
        seal: vault,
        handle: (tmp, name, roomId, cameraId) => core.importUpload(tmp, name, roomId, cameraId),
        authorize: () => core.uploadAllowed(),
      },
    });
    await bridge.start();
    const url = bridge.launchUrl as string;

    if (values.redis) {
      const scheme = process.env.SPACT_WORKER_TLS_CERT ? 'https' : 'http';
      progress(
        `Jobs run on workers. On each worker machine: spact worker --redis ${values.redis} --app ${scheme}://${process.env.SPACT_WORKER_LISTEN}${values.queue ? ` --queue ${values.queue}` : ''} --token TOKEN\n` +
          `  (a token per worker: spact worker --issue-token NAME on this machine)`,
      );
    }
    const heartbeat = setInterval(() => core.events.emit('app.heartbeat', { at: Date.now() }), 5000);
    const window = values['no-open'] ? null : openAppWindow(url, path.join(defaultDataDir(), 'browser-profile'));
    if (values.json) printJson({ url, port: bridge.port });
    else if (window) progress(`SPAct Desktop is open in a browser window (${bridge.origin}). Ctrl+C stops it.`);
    else progress(`SPAct Desktop (browser mode) is listening. Open this one-time link:\n  ${url}\nCtrl+C stops it.`);

    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      window?.once('exit', stop);
    });
    clearInterval(heartbeat);
    window?.kill();
    await bridge.stop();
    await core.close();
    return 0;
  },
};
