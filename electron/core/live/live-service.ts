// Live anonymized preview. Local cameras are captured in the renderer (getUserMedia) and sent here
// frame by frame; files and RTSP/HTTP streams are decoded on the main side. Either way only
// anonymized frames go back, except the raw side-by-side view, which only the admin role gets.
// A registered camera's privacy masks are burned into each raw frame first: neither f_A nor the raw
// view ever sees the masked pixels.
import type { EventOf } from '../../contract.js';
import type { Anonymizer } from '../../../native-models/ts/anonymizer.js';
import { FrameMasker, type MaskPolygon } from '../cameras/masks.js';
import { SpactError } from '../errors.js';
import { decodeFrames, probeVideo, workingSize } from '../media/video.js';

/** A frame as the live.frame event carries it (the contract's schema, not a copy). */
export type LiveFrame = EventOf<'live.frame'>;
export type LiveEnded = EventOf<'live.ended'>;

/** What the core decodes: never part of the contract (no path or URL is taken or sent there;
 *  live.start names a registered camera). */
export type LiveSource = { kind: 'file'; path: string } | { kind: 'stream'; url: string };

export class LiveService {
  private nextId = 1;
  private readonly streams = new Map<number, AbortController>();

  constructor(
    private readonly emitFrame: (f: LiveFrame) => void,
    private readonly emitEnded: (e: LiveEnded) => void,
  ) {}

  async anonymizeFrame(
    anonymizer: Anonymizer,
    width: number,
    height: number,
    rgbBase64: string,
    masks: MaskPolygon[] = [],
  ) {
    const rgb = Buffer.from(rgbBase64, 'base64');
    if (rgb.length !== width * height * 3)
      throw new SpactError('validation', `frame has ${rgb.length} bytes, expected ${width}×${height}×3`);
    const t0 = performance.now();
    new FrameMasker(masks).apply(rgb, 1, height, width);
    const out = await anonymizer.anonymize(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length), 1, height, width);
    return {
      width,
      height,
      rgb: Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('base64'),
      ms: performance.now() - t0,
    };
  }

  async start(
    anonymizer: Anonymizer,
    source: LiveSource,
    opts: {
      size: number;
      showRaw: boolean;
      fps?: number;
      /** The camera's privacy masks, blacked out in every decoded frame before anything else. */
      masks?: MaskPolygon[];
      /** Cleans an error message of the source (a URL's credentials, a file's path) before it is emitted. */
      redact?: (message: string) => string;
      /** Called once when the stream has ended (stopped, failed or the source ran out). */
      onEnded?: () => void;
    },
  ): Promise<number> {
    const masker = new FrameMasker(opts.masks ?? []);
    const input = source.kind === 'file' ? source.path : source.url;
    let width: number;
    let height: number;
    if (source.kind === 'file') ({ width, height } = workingSize(await probeVideo(input), opts.size));
    else ({ width, height } = workingSize({ width: 4, height: 3 }, opts.size));
    const id = this.nextId++;
    const controller = new AbortController();
    this.streams.set(id, controller);
    const fps = opts.fps ?? 10;
    void (async () => {
      let error: string | null = null;
      let last = performance.now();
      let rate = fps;
      try {
        for await (const b of decodeFrames(input, { width, height, fps, batch: 1, realtime: true })) {
          if (controller.signal.aborted) break;
          const t0 = performance.now();
          masker.apply(b.frames, 1, height, width);
          const anon = await anonymizer.anonymize(b.frames, 1, height, width);
          const now = performance.now();
          rate = 0.8 * rate + 0.2 * (1000 / Math.max(1, now - last));
          last = now;
          this.emitFrame({
            streamId: id,
            width,
            height,
            // Bytes, not base64: structured clone over IPC, a binary message over the WebSocket.
            anonymized: anon,
            ...(opts.showRaw ? { raw: b.frames } : {}),
            fps: rate,
            latencyMs: now - t0,
          });
        }
      } catch (err) {
        error = opts.redact ? opts.redact((err as Error).message) : (err as Error).message;
      } finally {
        this.streams.delete(id);
        opts.onEnded?.();
        this.emitEnded({ streamId: id, error });
      }
    })();
    return id;
  }

  stop(id: number): void {
    const c = this.streams.get(id);
    if (!c) throw new SpactError('not-found', `live stream ${id} is not running`);
    c.abort();
  }

  stopAll(): void {
    for (const c of this.streams.values()) c.abort();
  }
}
