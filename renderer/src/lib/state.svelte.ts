// App-wide state shared by the screens: session (role), toasts, and the model list.
import type { ModelView, Session } from '../../../electron/contract';
import { api, call } from './api';
import { errorText } from './error-text';

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
  /** How many times the same message came (shown once, with the count). */
  count: number;
}

export const app = $state({
  session: { role: 'viewer', protectedRoles: [], pinLocks: [], lockouts: [] } as Session,
  models: [] as ModelView[],
  toasts: [] as Toast[],
});

let toastId = 0;
// Timers only (never rendered): a plain Map, not reactive state.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const toastTimers = new Map<number, ReturnType<typeof setTimeout>>();
const INFO_TOAST_MS = 4_000;

export function dismissToast(id: number): void {
  clearTimeout(toastTimers.get(id));
  toastTimers.delete(id);
  const i = app.toasts.findIndex((t) => t.id === id);
  if (i >= 0) app.toasts.splice(i, 1);
}

/**
 * Shows a message. The same text again raises the count of the toast already shown instead of
 * piling up; errors stay until dismissed (they may need reading twice), the rest time out.
 */
export function toast(text: string, kind: 'error' | 'info' = 'info'): void {
  const same = app.toasts.find((t) => t.text === text && t.kind === kind);
  const id = same?.id ?? ++toastId;
  if (same) same.count++;
  else app.toasts.push({ id, kind, text, count: 1 });
  if (kind === 'error') return;
  clearTimeout(toastTimers.get(id));
  toastTimers.set(
    id,
    setTimeout(() => dismissToast(id), INFO_TOAST_MS),
  );
}

/** Runs an action and shows its error as a readable message: nothing fails silently. */
export async function attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (err) {
    toast(errorText(err), 'error');
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

export { formatDuration } from './format';
