// Media files behind the transports' URLs (role-checked, raw views audited), thumbnails, and
// uploads of browser mode. Not contract methods: the shells call these directly.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type { ClipView, MediaKind } from '../../contract.js';
import { SpactError } from '../errors.js';
import { ffmpegPath } from '../media/ffmpeg.js';
import { requireRaw, viewClip, type HandlerDeps } from './deps.js';

/** The first frame of an anonymized output as a 160-px JPEG, written to a temporary file and renamed. */
async function makeThumbnail(video: string, file: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}.jpg`;
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        ffmpegPath(),
        ['-hide_banner', '-loglevel', 'error', '-i', video, '-frames:v', '1', '-vf', 'scale=160:-2', '-y', tmp],
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    await fs.promises.rename(tmp, file);
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}

export interface MediaAccess {
  resolveMedia(kind: MediaKind, id: number): Promise<{ file: string; contentType: string }>;
  uploadAllowed(): boolean;
  importUpload(
    tmpFile: string,
    originalName: string,
    roomId: number | null,
    cameraId?: number | null,
  ): Promise<ClipView>;
}

export function mediaAccess(d: HandlerDeps): MediaAccess {
  const { core, session, cameras, rawViews } = d;
  const thumbsDir = path.join(core.dataDir, 'thumbs');
  const thumbsInFlight = new Map<string, Promise<void>>();
  return {
    async resolveMedia(kind, id) {
      if (kind === 'output') return { file: core.anonymize.output(id).path, contentType: 'video/mp4' };
      if (kind === 'clip') {
        requireRaw(d, `clip:${id}`);
        // A clip that does not exist is not found, and was not viewed.
        const file = core.library.clip(id).path;
        rawViews.touch(id);
        return { file, contentType: 'video/mp4' };
      }
      // Thumbnails are taken from anonymized outputs only: no raw frame ever becomes a thumbnail.
      const out = core.anonymize.output(id);
      const file = path.join(thumbsDir, `output-${id}-${out.sha256.slice(0, 8)}.jpg`);
      if (!fs.existsSync(file)) {
        // Made off the core's thread, once however many screens ask for it at the same time.
        let making = thumbsInFlight.get(file);
        if (!making) {
          making = makeThumbnail(out.path, file).finally(() => thumbsInFlight.delete(file));
          thumbsInFlight.set(file, making);
        }
        try {
          await making;
        } catch {
          throw new SpactError('internal', `could not make a thumbnail for output ${id}`);
        }
      }
      return { file, contentType: 'image/jpeg' };
    },
    uploadAllowed() {
      if (session.allows('operator')) return true;
      core.audit.record(session.current, 'upload-denied', null);
      return false;
    },
    async importUpload(tmpFile, originalName, roomId, cameraId) {
      session.require('operator', 'importing clips');
      const camera = cameraId != null ? cameras.open(cameraId) : null;
      // A folder per upload: two uploads of the same name never collide.
      const folder = fs.mkdtempSync(path.join(path.dirname(tmpFile), 'u-'));
      const named = path.join(folder, path.basename(originalName).replace(/[^\w.-]+/g, '_') || 'upload.mp4');
      fs.renameSync(tmpFile, named);
      try {
        return viewClip(
          d,
          await core.library.importClip(named, {
            roomId: roomId ?? camera?.roomId ?? null,
            name: path.basename(originalName) || 'upload',
            ...(camera ? { camera: { id: camera.id, masks: camera.masks } } : {}),
          }),
        );
      } finally {
        fs.rmSync(folder, { recursive: true, force: true });
      }
    },
  };
}
