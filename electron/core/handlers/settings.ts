// App settings: stored as JSON values in the settings table, read within today's limits.
import type { Settings } from '../../contract.js';
import { checkDevice } from '../../../native-models/ts/engine.js';
import {
  APP_SIZE_DEFAULTS,
  ENGINE_DEFAULTS,
  readAppSizeSettings,
  readEngineSettings,
} from '../anonymize/anonymize-service.js';
import type { AppCore } from '../app-core.js';
import type { HandlerDeps, HandlersOf } from './deps.js';

const SETTINGS_DEFAULTS: Omit<Settings, 'dataDir'> = {
  ...ENGINE_DEFAULTS,
  defaultModelId: null,
  ...APP_SIZE_DEFAULTS,
  keepAudio: false,
};

export function readSettings(core: AppCore): Settings {
  const rows = core.db.prepare(`SELECT key, value FROM settings`).all() as { key: string; value: string }[];
  const stored = Object.fromEntries(
    rows.filter((r) => r.key in SETTINGS_DEFAULTS).map((r) => [r.key, JSON.parse(r.value) as unknown]),
  );
  // Sizes stored by an older version are kept, brought within today's limits; engine values out
  // of range are the defaults. A data folder stored by an older version is not a setting.
  return {
    ...SETTINGS_DEFAULTS,
    ...stored,
    ...readAppSizeSettings(core.db),
    ...readEngineSettings(core.db),
    dataDir: core.dataDir,
  };
}

export const settingsHandlers = ({ core, session, readSettings }: HandlerDeps): HandlersOf<'settings'> => ({
  'settings.get': () => readSettings(),
  'settings.set': (r) => {
    session.require('admin', 'changing settings');
    if (r.defaultModelId) core.library.model(r.defaultModelId);
    // A CUDA device this machine lacks is refused now, with its reason (kind 'unavailable').
    if (r.device !== undefined) checkDevice(r.device);
    const upsert = core.db.prepare(
      `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    core.db.transaction(() => {
      for (const [k, v] of Object.entries(r)) upsert.run(k, JSON.stringify(v));
    })();
    core.audit.record('admin', 'settings', null, r);
    return readSettings();
  },
});
