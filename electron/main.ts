// The Electron shell: windows, menu and IPC wiring, nothing else. All behaviour lives in
// electron/core (plain Node), hosted in a utilityProcess and reached through the same contract as
// browser mode and the CLI: the main process never runs a query, a hash or a child process itself.
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  net,
  protocol,
  safeStorage,
  utilityProcess,
  type IpcMainInvokeEvent,
  type WebContents,
} from 'electron';

import type { Result } from './contract.js';
import { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL, IPC_PICK_FOLDER_CHANNEL, MEDIA_SCHEME } from './ipc-channels.js';
import { toApiError } from './core/errors.js';
import { defaultDataDir, projectRoot, rendererDir } from './core/paths.js';
import { sealedRangeResponse } from './core/vault/raw-feed.js';
import { isSealedFile } from './core/vault/sealed-file.js';
import { unlockFromEnvironment, Vault, type KeyProtector } from './core/vault/vault.js';
import { CoreClient, hostEntry } from './core/host/core-client.js';
import type { CoreHandle, HostLauncher, HostMessage } from './core/host/core-host-protocol.js';

const windows = new Set<BrowserWindow>();

export function rendererEntry(): string {
  return path.join(rendererDir(), 'index.html');
}

/** Only frames showing our own renderer may call the API (no remote or injected content). */
export function isTrustedSender(event: Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>): boolean {
  const frameUrl = event.senderFrame?.url;
  if (!frameUrl) return false;
  const expected = pathToFileURL(rendererEntry()).href;
  const url = frameUrl.split('#')[0]?.split('?')[0];
  return url === expected && [...windows].some((w) => w.webContents.id === event.sender.id);
}

export function setupSecurity(): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (e, url) => {
      if (url !== pathToFileURL(rendererEntry()).href) e.preventDefault();
    });
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

export function setupIpc(core: CoreHandle): void {
  ipcMain.handle(IPC_INVOKE_CHANNEL, async (event, method: unknown, payload: unknown): Promise<Result<unknown>> => {
    if (!isTrustedSender(event)) {
      return { ok: false, error: { kind: 'unauthorized', message: 'IPC from an untrusted frame was refused' } };
    }
    if (typeof method !== 'string') {
      return { ok: false, error: { kind: 'validation', message: 'method name must be a string' } };
    }
    return core.dispatch(method, payload, { transport: 'ipc' });
  });
  // The export folder: the native dialog, for our own frames only (the path is checked again by exports.start).
  ipcMain.handle(IPC_PICK_FOLDER_CHANNEL, async (event, title: unknown): Promise<string | null> => {
    const win = [...windows].find((w) => w.webContents.id === event.sender.id);
    if (!isTrustedSender(event) || !win) return null;
    const r = await dialog.showOpenDialog(win, {
      title: typeof title === 'string' ? title.slice(0, 200) : 'Choose a folder',
      properties: ['openDirectory', 'createDirectory'],
    });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  });
  core.events.subscribe((event, payload) => {
    for (const w of windows) if (!w.isDestroyed()) w.webContents.send(IPC_EVENT_CHANNEL, { event, payload });
  });
}

/** Must run before the app is ready: the media scheme streams (video seeking) and is secure. */
export function registerMediaScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: MEDIA_SCHEME, privileges: { standard: true, secure: true, stream: true, supportFetchAPI: true } },
  ]);
}

/** spact-media://<kind>/<id>: the same role checks as browser mode's /media route. */
export function setupMediaProtocol(core: CoreHandle): void {
  protocol.handle(MEDIA_SCHEME, async (request) => {
    const url = new URL(request.url);
    const kind = url.hostname;
    const id = Number(url.pathname.slice(1));
    if (!['output', 'clip', 'thumb'].includes(kind) || !Number.isInteger(id))
      return new Response('not found', { status: 404 });
    try {
      const { file, contentType } = await core.resolveMedia(kind as 'output' | 'clip' | 'thumb', id);
      if (isSealedFile(file)) {
        // Raw footage sealed at rest: only the requested range is decrypted, in memory.
        const r = sealedRangeResponse(file, request.headers.get('range') ?? undefined, contentType);
        return new Response(r.body ? (Readable.toWeb(r.body) as ReadableStream) : null, {
          status: r.status,
          headers: r.headers,
        });
      }
      return net.fetch(pathToFileURL(file).href, { headers: request.headers });
    } catch (err) {
      const e = toApiError(err);
      return new Response(e.message, { status: e.kind === 'forbidden' ? 403 : e.kind === 'not-found' ? 404 : 500 });
    }
  });
}

export function setupMenu(): void {
  Menu.setApplicationMenu(
    Menu.buildFromTemplate([{ role: 'fileMenu' }, { role: 'editMenu' }, { role: 'viewMenu' }, { role: 'windowMenu' }]),
  );
}

export function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 600,
    title: 'SPAct Desktop',
    show: false,
    webPreferences: {
      preload: path.join(projectRoot(), 'dist', 'preload', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  });
  windows.add(win);
  win.on('closed', () => windows.delete(win));
  win.once('ready-to-show', () => win.show());
  void win.loadFile(rendererEntry());
  return win;
}

/**
 * Opens the data folder's vault with the OS keystore (safeStorage; SPACT_PASSPHRASE where the
 * folder was set up with a passphrase): the master key is enrolled there on first use.
 */
export function setupVault(dataDir = process.env.SPACT_DATA_DIR ?? defaultDataDir()): Vault {
  const keystore: KeyProtector | undefined = safeStorage.isEncryptionAvailable()
    ? {
        protect: (key) => safeStorage.encryptString(key.toString('hex')),
        unprotect: (blob) => Buffer.from(safeStorage.decryptString(blob), 'hex'),
      }
    : undefined;
  return Vault.open(path.resolve(dataDir), { ...unlockFromEnvironment(), ...(keystore ? { keystore } : {}) });
}

/** The core host as an Electron utilityProcess (the same host script browser mode forks). The
 *  vault's key reaches it through its environment (readable by this user only), never its arguments. */
export function utilityHostLauncher(vault?: Vault): HostLauncher {
  return (options) => {
    const child = utilityProcess.fork(hostEntry(), ['--options', JSON.stringify(options)], {
      serviceName: 'SPAct core',
      stdio: 'inherit',
      ...(vault ? { env: { ...process.env, SPACT_VAULT_KEY: vault.exportKey().toString('hex') } } : {}),
    });
    return {
      send: (m) => child.postMessage(m),
      onMessage: (l) => child.on('message', (m: unknown) => l(m as HostMessage)),
      onExit: (l) => child.once('exit', (code: number) => l(code, null)),
      kill: () => void child.kill(),
    };
  };
}

export async function setupCore(launcher: HostLauncher = utilityHostLauncher()): Promise<CoreHandle> {
  return CoreClient.start(
    launcher,
    process.env.SPACT_DATA_DIR ? { dataDir: process.env.SPACT_DATA_DIR } : {},
    (reason) => process.stderr.write(`[spact] ${reason}; restarting it\n`),
  );
}

export async function boot(): Promise<void> {
  registerMediaScheme();
  setupSecurity();
  await app.whenReady();
  let vault: Vault;
  try {
    vault = setupVault();
  } catch (err) {
    dialog.showErrorBox('SPAct Desktop cannot open its raw footage', toApiError(err).message);
    app.quit();
    return;
  }
  const core = await setupCore(utilityHostLauncher(vault));
  setupMenu();
  setupIpc(core);
  setupMediaProtocol(core);
  createMainWindow();
  app.on('window-all-closed', () => {
    void core.close().finally(() => app.quit());
  });
}

if (process.versions.electron && !process.env.VITEST) void boot();
