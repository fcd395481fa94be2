// Live anonymized preview: frames of a local camera sent by the window, or a registered file or
// stream camera decoded here (frames as live.frame events).
import type { CameraView } from '../../contract.js';
import { SpactError } from '../errors.js';
import type { LiveSource } from '../live/live-service.js';
import { probeVideo } from '../media/video.js';
import { resolveWorkingSize } from '../media/working-size.js';
import { chooseModel, requireRaw, type HandlerDeps, type HandlersOf } from './deps.js';

export const liveHandlers = (d: HandlerDeps): HandlersOf<'live'> => {
  const { core, session, cameras, live } = d;
  return {
    'live.anonymizeFrame': async (r) => {
      // A registered local camera (its masks applied) for every role; ad-hoc capture for operators.
      let masks: CameraView['masks'] = [];
      if (r.cameraId === undefined) session.require('operator', 'capturing an unregistered camera');
      else {
        const camera = cameras.open(r.cameraId);
        if (camera.kind !== 'local')
          throw new SpactError('bad-input', `camera ${camera.id} is not a local camera: start it with live.start`);
        masks = camera.masks;
      }
      // Pinned for the frame: a model loaded meanwhile (another room, a settings change) cannot close it.
      const model = d.core.library.model(chooseModel(d, r.modelId));
      return d.core.anonymize.withAnonymizer(model, d.core.anonymize.engineSettings(), (anonymizer) =>
        live.anonymizeFrame(anonymizer, r.width, r.height, r.rgb, masks),
      );
    },
    'live.start': async (r) => {
      // Only registered cameras: an admin chose what the core opens; every role picks from the list.
      if (r.showRaw) requireRaw(d, 'live', 'the raw side-by-side view');
      const camera = cameras.open(r.cameraId);
      if (camera.kind === 'local')
        throw new SpactError(
          'bad-input',
          `camera ${camera.id} is a local device: it is captured in the window and sent with live.anonymizeFrame`,
        );
      const source: LiveSource =
        camera.kind === 'file' ? { kind: 'file', path: camera.source } : { kind: 'stream', url: camera.source };
      // Held (pinned in the model cache) until the stream ends: eviction never closes it under the stream.
      const lease = await d.core.anonymize.leaseAnonymizer(
        d.core.library.model(chooseModel(d, r.modelId, camera.roomId)),
      );
      try {
        // Live frames are not measured for people: 'auto' follows the source's size (streams: 640×480).
        const setting = r.size ?? d.readSettings().inputSize;
        const size =
          setting === 'auto'
            ? resolveWorkingSize(
                'auto',
                source.kind === 'file' ? await probeVideo(source.path) : { width: 640, height: 480 },
              )
            : setting;
        const streamId = await live.start(lease.model, source, {
          size,
          showRaw: Boolean(r.showRaw),
          masks: camera.masks,
          redact: camera.redact,
          onEnded: lease.release,
        });
        if (r.showRaw) core.audit.record('admin', 'raw-view', `live:${streamId}`, { cameraId: camera.id });
        return { streamId };
      } catch (err) {
        lease.release();
        // Messages name the source: never its credentials or a file's path.
        if (err instanceof SpactError) throw new SpactError(err.kind, camera.redact(err.message));
        throw new SpactError('internal', camera.redact((err as Error).message));
      }
    },
    'live.stop': (r) => {
      live.stop(r.streamId);
      return { stopped: r.streamId };
    },
  };
};
