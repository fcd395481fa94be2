// Picks the transport once at start: Electron's preload API when present, otherwise the
// loopback bridge of browser mode (api-client.ts). Either way every reply and event is checked
// against the contract before a screen sees it (contract-checks.ts). Screens only ever see the
// SpactApi interface.
import type { MethodName, RequestOf, ResponseOf, SpactApi } from '../../../electron/contract.js';
import { createBridgeClient, throwingCall } from './api-client';
import { withContractChecks } from './contract-checks';

function pageBridge(): SpactApi {
  return createBridgeClient({
    fetch: (url, init) => fetch(url, init),
    openEvents(on) {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/events`);
      ws.binaryType = 'arraybuffer'; // live frames come as binary messages
      ws.onmessage = (msg) => on.message(msg.data);
      ws.onopen = () => on.open();
      ws.onclose = () => on.close();
    },
    later: (fn, ms) => void setTimeout(fn, ms),
  });
}

export const api: SpactApi = withContractChecks(window.spact ?? pageBridge());

/** Calls a method and throws its error (for screens that show errors through one handler). */
export const call: <M extends MethodName>(method: M, request: RequestOf<M>) => Promise<ResponseOf<M>> =
  throwingCall(api);
