// main.ts and preload.ts with a mocked `electron` module: Electron itself cannot run here, but
// the wiring (window security options, sender check, validation, exposed API) can be proven.
import { pathToFileURL } from 'node:url';

import { beforeEach, describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  type Handler = (...args: unknown[]) => unknown;
  const state = {
    ipcHandlers: new Map<string, Handler>(),
    appHandlers: new Map<string, Handler>(),
    windows: [] as Array<{
      options: Record<string, unknown>;
      webContents: { id: number; send: Handler };
      loaded?: string;
    }>,
    exposed: new Map<string, unknown>(),
    // Per channel, in order, like an EventEmitter: removal is by identity, so the test sees which went.
    rendererListeners: new Map<string, Handler[]>(),
    invoked: [] as unknown[][],
    sent: [] as unknown[][],
    schemes: [] as unknown[],
    protocolHandlers: new Map<string, Handler>(),
    utilityForks: [] as unknown[][],
    dialogs: [] as unknown[][],
    // Set by the test: Electron's utilityProcess.fork, played by Node's fork.
    forkImpl: undefined as Handler | undefined,
  };
  let nextId = 1;
  class BrowserWindow {
    webContents: { id: number; send: Handler };
    loaded?: string;
    constructor(readonly options: Record<string, unknown>) {
      this.webContents = { id: nextId++, send: (...a: unknown[]) => state.sent.push(a) };
      state.windows.push(this);
    }
    on() {}
    once() {}
    isDestroyed() {
      return false;
    }
    loadFile(file: string) {
      this.loaded = file;
      return Promise.resolve();
    }
  }
  const electron = {
    app: {
      on: (ev: string, fn: Handler) => state.appHandlers.set(ev, fn),
      whenReady: () => Promise.resolve(),
      quit: () => undefined,
    },
    BrowserWindow,
    utilityProcess: {
      fork: (...a: unknown[]) => (state.utilityForks.push(a), state.forkImpl!(...a)),
    },
    ipcMain: { handle: (ch: string, fn: Handler) => state.ipcHandlers.set(ch, fn) },
    Menu: { setApplicationMenu: () => undefined, buildFromTemplate: (t: unknown) => t },
    protocol: {
      registerSchemesAsPrivileged: (s: unknown) => state.schemes.push(s),
      handle: (scheme: string, fn: Handler) => state.protocolHandlers.set(scheme, fn),
    },
    net: { fetch: (url: string) => Promise.resolve({ url }) },
    // The OS keystore, played by a reversible mask (Electron's safeStorage encrypts with a key of
    // the user's login keyring).
    safeStorage: {
      isEncryptionAvailable: () => true,
      encryptString: (t: string) => Buffer.from(`keystore:${Buffer.from(t).toString('base64')}`),
      decryptString: (b: Buffer) => Buffer.from(b.toString().slice('keystore:'.length), 'base64').toString(),
    },
    dialog: {
      showErrorBox: () => undefined,
      showOpenDialog: (...a: unknown[]) => (
        state.dialogs.push(a),
        Promise.resolve({ canceled: false, filePaths: ['/picked'] })
      ),
    },
    webUtils: { getPathForFile: (f: { path: string }) => f.path },
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => state.exposed.set(key, api) },
    ipcRenderer: {
      invoke: (...a: unknown[]) => (state.invoked.push(a), Promise.resolve({ ok: true, value: 'x' })),
      on: (ch: string, fn: Handler) =>
        state.rendererListeners.set(ch, [...(state.rendererListeners.get(ch) ?? []), fn]),
      removeListener: (ch: string, fn: Handler) => {
        const list = state.rendererListeners.get(ch) ?? [];
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      },
    },
  };
  return { state, electron };
});

vi.mock('electron', () => ({ ...h.electron, default: h.electron }));

const main = await import('../../electron/main.js');
const { createCoreServices } = await import('../../electron/core/services.js');
const { inProcessCore } = await import('../../electron/core/host/in-process-core.js');
const { hostEntry } = await import('../../electron/core/host/core-client.js');
const { fork } = await import('node:child_process');
const { IPC_INVOKE_CHANNEL, IPC_EVENT_CHANNEL, IPC_PICK_FOLDER_CHANNEL, MEDIA_SCHEME } =
  await import('../../electron/ipc-channels.js');
const { tmpDir } = await import('../helpers/toy-clips.js');
const { makeVideo } = await import('../helpers/video.js');
const fs = await import('node:fs');
const path = await import('node:path');

describe('electron/main.ts', () => {
  const core = inProcessCore(createCoreServices({ dataDir: tmpDir('spact-shell-'), role: 'viewer' }));
  beforeEach(() => {
    h.state.ipcHandlers.clear();
  });

  it('creates windows with context isolation, sandbox and no Node integration', () => {
    const win = main.createMainWindow() as unknown as {
      options: { webPreferences: Record<string, unknown> };
      loaded: string;
    };
    const prefs = win.options.webPreferences;
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.webSecurity).toBe(true);
    expect(String(prefs.preload)).toMatch(/dist[/\\]preload[/\\]preload\.cjs$/);
    expect(win.loaded).toBe(main.rendererEntry());
  });

  it('denies new windows and foreign navigation', () => {
    main.setupSecurity();
    const created = h.state.appHandlers.get('web-contents-created')!;
    let openHandler: (() => unknown) | undefined;
    const nav = new Map<string, (e: { preventDefault(): void }, url: string) => void>();
    created(
      {},
      {
        setWindowOpenHandler: (fn: () => unknown) => (openHandler = fn),
        on: (ev: string, fn: (e: { preventDefault(): void }, url: string) => void) => nav.set(ev, fn),
      },
    );
    expect(openHandler!()).toEqual({ action: 'deny' });
    const prevented = vi.fn();
    nav.get('will-navigate')!({ preventDefault: prevented }, 'https://example.com');
    expect(prevented).toHaveBeenCalled();
  });

  it('answers IPC only from our own renderer frame, and validates payloads', async () => {
    main.setupIpc(core);
    const handler = h.state.ipcHandlers.get(IPC_INVOKE_CHANNEL)!;
    const win = h.state.windows[0]!;
    const trusted = {
      sender: { id: win.webContents.id },
      senderFrame: { url: pathToFileURL(main.rendererEntry()).href },
    };
    const foreignFrame = { sender: { id: win.webContents.id }, senderFrame: { url: 'https://evil.example/' } };
    const foreignSender = { sender: { id: 999 }, senderFrame: trusted.senderFrame };

    const ok = (await handler(trusted, 'app.info', {})) as { ok: boolean; value: { transport: string } };
    expect(ok.ok).toBe(true);
    expect(ok.value.transport).toBe('ipc');
    for (const ev of [foreignFrame, foreignSender]) {
      const denied = (await handler(ev, 'app.info', {})) as { ok: false; error: { kind: string } };
      expect(denied.error.kind).toBe('unauthorized');
    }
    const invalid = (await handler(trusted, 'app.info', { extra: true })) as { ok: false; error: { kind: string } };
    expect(invalid.error.kind).toBe('validation');
    const notString = (await handler(trusted, 42, {})) as { ok: false; error: { kind: string } };
    expect(notString.error.kind).toBe('validation');
    // The native folder dialog (export destination): our own frame only; others get null, no dialog.
    const pick = h.state.ipcHandlers.get(IPC_PICK_FOLDER_CHANNEL)!;
    for (const ev of [foreignFrame, foreignSender]) expect(await pick(ev, 'Choose')).toBeNull();
    expect(h.state.dialogs).toHaveLength(0);
    expect(await pick(trusted, 'Choose the export folder')).toBe('/picked');
    expect(h.state.dialogs).toHaveLength(1);
  });

  it('serves media through its own scheme with the same role checks (viewer: no raw clips)', async () => {
    main.registerMediaScheme();
    expect(JSON.stringify(h.state.schemes)).toContain(MEDIA_SCHEME);
    main.setupMediaProtocol(core);
    const handle = h.state.protocolHandlers.get(MEDIA_SCHEME)!;
    const raw = (await handle({ url: `${MEDIA_SCHEME}://clip/1`, headers: {} })) as Response;
    expect(raw.status).toBe(403);
    const bogus = (await handle({ url: `${MEDIA_SCHEME}://nope/1`, headers: {} })) as Response;
    expect(bogus.status).toBe(404);
  });

  it('hosts the core in a utilityProcess and reaches it through the contract', async () => {
    // Electron's utilityProcess speaks postMessage/'message'/'exit': played here by a Node fork.
    h.state.forkImpl = (entry, args, options) => {
      const env = (options as { env?: NodeJS.ProcessEnv }).env;
      const child = fork(entry as string, args as string[], {
        serialization: 'advanced',
        execArgv: [],
        ...(env ? { env } : {}),
      });
      return {
        postMessage: (m: unknown) => child.send(m as never),
        on: (ev: string, fn: (m: unknown) => void) => child.on(ev, fn),
        once: (ev: string, fn: (code: number | null) => void) => child.once(ev, fn),
        kill: () => child.kill(),
      };
    };
    const dataDir = tmpDir('spact-shell-host-');
    process.env.SPACT_DATA_DIR = dataDir;
    try {
      const hosted = await main.setupCore(main.utilityHostLauncher());
      const [entry, , options] = h.state.utilityForks.at(-1) as [string, string[], { serviceName: string }];
      expect(entry).toBe(hostEntry());
      expect(options.serviceName).toBe('SPAct core');
      expect(hosted.dataDir).toBe(dataDir);
      const info = await hosted.dispatch('app.info', {}, { transport: 'ipc' });
      expect(info.ok).toBe(true);
      await hosted.close();
    } finally {
      delete process.env.SPACT_DATA_DIR;
    }
  });

  it('keeps the raw footage key in the OS keystore, hands it to the host by environment, plays sealed clips', async () => {
    const dataDir = tmpDir('spact-shell-vault-');
    const passphrase = process.env.SPACT_PASSPHRASE;
    delete process.env.SPACT_PASSPHRASE; // the desktop app needs no passphrase: the keystore has the key
    process.env.SPACT_DATA_DIR = dataDir;
    try {
      const vault = main.setupVault();
      const stored = JSON.parse(fs.readFileSync(path.join(dataDir, 'vault.json'), 'utf8')) as {
        protectors: { kind: string }[];
      };
      expect(stored.protectors.map((p) => p.kind)).toEqual(['os-keystore']);
      expect(main.setupVault().exportKey().equals(vault.exportKey())).toBe(true);
      const hosted = await main.setupCore(main.utilityHostLauncher(vault));
      const [, args, options] = h.state.utilityForks.at(-1) as [string, string[], { env: NodeJS.ProcessEnv }];
      const keyHex = vault.exportKey().toString('hex');
      expect(options.env.SPACT_VAULT_KEY).toBe(keyHex);
      expect(args.join(' ')).not.toContain(keyHex);
      // An admin imports a clip (sealed by the host) and plays a range of it through the scheme.
      const video = makeVideo(path.join(tmpDir(), 'cam.mp4'), { seconds: 1 });
      const imported = await hosted.dispatch('clips.import', { paths: [video] }, { transport: 'ipc' });
      expect(imported.ok).toBe(true);
      const clipId = (imported as { value: { imported: { id: number }[] } }).value.imported[0]!.id;
      await hosted.dispatch('clips.rawAccess', { clipId }, { transport: 'ipc' });
      main.setupMediaProtocol(hosted);
      const handle = h.state.protocolHandlers.get(MEDIA_SCHEME)!;
      const res = (await handle({
        url: `${MEDIA_SCHEME}://clip/${clipId}`,
        headers: new Headers({ Range: 'bytes=100-299' }),
      })) as Response;
      expect(res.status).toBe(206);
      expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(video).subarray(100, 300))).toBe(true);
      await hosted.close();
    } finally {
      process.env.SPACT_PASSPHRASE = passphrase;
      delete process.env.SPACT_DATA_DIR;
    }
  });

  it('forwards core events to windows', () => {
    core.events.emit('app.heartbeat', { at: 7 });
    expect(h.state.sent).toContainEqual([IPC_EVENT_CHANNEL, { event: 'app.heartbeat', payload: { at: 7 } }]);
  });
});

describe('electron/preload.ts', () => {
  it('exposes exactly call/on/mediaUrl/importFiles/pickFolder as window.spact over the contract channels', async () => {
    await import('../../electron/preload.js');
    const api = h.state.exposed.get('spact') as {
      call(m: string, r: unknown): Promise<unknown>;
      on(e: string, l: (p: unknown) => void): () => void;
    };
    expect(Object.keys(api).sort()).toEqual(['call', 'importFiles', 'mediaUrl', 'on', 'pickFolder']);
    await (api as unknown as { pickFolder(t: string): Promise<unknown> }).pickFolder('Choose');
    expect(h.state.invoked.at(-1)).toEqual([IPC_PICK_FOLDER_CHANNEL, 'Choose']);
    await api.call('app.info', {});
    expect(h.state.invoked.at(-1)).toEqual([IPC_INVOKE_CHANNEL, 'app.info', {}]);

    // Two subscribers on the one channel: each off() must remove its own listener, not the other's.
    const listeners = () => h.state.rendererListeners.get(IPC_EVENT_CHANNEL) ?? [];
    const emit = (msg: unknown) => {
      for (const l of [...listeners()]) l({}, msg);
    };
    const first: unknown[] = [];
    const second: unknown[] = [];
    const offFirst = api.on('app.heartbeat', (p) => first.push(p));
    const offSecond = api.on('app.heartbeat', (p) => second.push(p));
    const [firstListener, secondListener] = listeners();
    expect(listeners()).toHaveLength(2);
    expect(firstListener).not.toBe(secondListener);
    emit({ event: 'other', payload: 1 });
    emit({ event: 'app.heartbeat', payload: { at: 1 } });
    expect(first).toEqual([{ at: 1 }]);
    expect(second).toEqual([{ at: 1 }]);
    offFirst();
    expect(listeners()).toHaveLength(1);
    expect(listeners()[0]).toBe(secondListener);
    emit({ event: 'app.heartbeat', payload: { at: 2 } });
    expect(first).toEqual([{ at: 1 }]);
    expect(second).toEqual([{ at: 1 }, { at: 2 }]);
    offFirst(); // a second call removes nothing more
    expect(listeners()).toHaveLength(1);
    expect(listeners()[0]).toBe(secondListener);
    offSecond();
    expect(listeners()).toHaveLength(0);
    const full = api as unknown as {
      mediaUrl(k: string, id: number): string;
      importFiles(f: unknown[], r: number | null): Promise<unknown>;
    };
    expect(full.mediaUrl('output', 3)).toBe(`${MEDIA_SCHEME}://output/3`);
    await full.importFiles([{ path: '/videos/a.mp4' }], 2);
    expect(h.state.invoked.at(-1)).toEqual([
      IPC_INVOKE_CHANNEL,
      'clips.import',
      { paths: ['/videos/a.mp4'], roomId: 2 },
    ]);
  });
});
