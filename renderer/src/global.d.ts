import type { SpactApi } from '../../electron/contract';

declare global {
  interface Window {
    /** Present inside Electron (exposed by the preload); absent in browser mode. */
    spact?: SpactApi;
  }
}

export {};
