import { ApiDispatcher, type Handlers } from './api-dispatcher.js';
import { readAppInfo } from './app-info.js';
import { EventHub } from './event-hub.js';

/** Everything the transports need: the dispatcher with all handlers, and the event hub. */
export interface CoreServices {
  dispatcher: ApiDispatcher;
  events: EventHub;
}

export function createCoreServices(): CoreServices {
  const events = new EventHub();
  const handlers: Handlers = {
    'app.info': (_req, ctx) => readAppInfo(ctx.transport),
  };
  return { dispatcher: new ApiDispatcher(handlers), events };
}
