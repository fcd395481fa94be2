import type { EventName, EventOf } from '../contract.js';

type Listener = (event: EventName, payload: unknown) => void;

/** Fan-out of main-side events to every connected renderer (IPC windows, bridge WebSockets). */
export class EventHub {
  private readonly listeners = new Set<Listener>();

  emit<E extends EventName>(event: E, payload: EventOf<E>): void {
    for (const l of this.listeners) l(event, payload);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
