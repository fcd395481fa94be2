// App-wide state shared by the screens: session (role), toasts, and the model list.
import type { ModelView, Session } from '../../../electron/contract';
import { api, call } from './api';

export const app = $state({
  session: { role: 'viewer', protectedRoles: [], pinLocks: [], lockouts: [] } as Session,
  models: [] as ModelView[],
  toasts: [] as { id: number; kind: 'error' | 'info'; text: string }[],
});

let toastId = 0;

export function toast(text: string, kind: 'error' | 'info' = 'info'): void {
  const id = ++toastId;
  app.toasts.push({ id, kind, text });
  setTimeout(
    () => {
      const i = app.toasts.findIndex((t) => t.id === id);
      if (i >= 0) app.toasts.splice(i, 1);
    },
    kind === 'error' ? 10_000 : 4_000,
  );
}

/** Runs an action and shows its error as a readable message: nothing fails silently. */
export async function attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (err) {
    toast(err instanceof Error ? err.message : String(err), 'error');
    return undefined;
  }
}

export async function refreshSession(): Promise<void> {
  app.session = await call('session.get', {});
}

export async function refreshModels(): Promise<void> {
  app.models = await call('models.list', {});
}

api.on('session.changed', (s) => {
  app.session = s;
});

export const canOperate = () => app.session.role !== 'viewer';
export const isAdmin = () => app.session.role === 'admin';

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
