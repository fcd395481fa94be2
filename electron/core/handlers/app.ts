import { readAppInfo } from '../app-info.js';
import type { HandlersOf } from './deps.js';

export const appHandlers = (): HandlersOf<'app'> => ({
  'app.info': (_req, ctx) => readAppInfo(ctx.transport),
});
