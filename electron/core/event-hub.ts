import { events as eventSchemas, type EventName, type EventOf } from '../contract.js';
import { contractChecksEnabled, describeIssues } from './errors.js';

type Listener = (event: EventName, payload: unknown) => void;

export interface EventHubOptions {
  /** Check each payload against the contract before it goes out (default: contractChecksEnabled()). */
  validate?: boolean;
  /** Told about a payload refused by that check (default: console.error). */
  onViolation?: (message: string) => void;
}

/** Fan-out of main-side events to every connected renderer (IPC windows, bridge WebSockets). */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  private readonly validate: boolean;
  private readonly onViolation: (message: string) => void;

  constructor(opts: EventHubOptions = {}) {
    this.validate = opts.validate ?? contractChecksEnabled();
    this.onViolation = opts.onViolation ?? ((m) => console.error(m));
  }

  /** Sends an event to every listener. With checks on, a payload the contract does not allow is
   *  not sent (no renderer sees it) and is reported; the emitter is not interrupted. */
  emit<E extends EventName>(event: E, payload: EventOf<E>): boolean {
    if (this.validate) {
      const parsed = eventSchemas[event].safeParse(payload);
      if (!parsed.success) {
        this.onViolation(`event ${event} does not match the contract: ${describeIssues(parsed.error)}`);
        return false;
      }
    }
    for (const l of this.listeners) l(event, payload);
    return true;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
