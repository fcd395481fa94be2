// Names of the privacy audit's cached findings on raw footage (people, poses, faces with their
// embeddings): tied to the raw file, so deleting a clip deletes what the judges found on it.
import { createHash } from 'node:crypto';
import path from 'node:path';

/** The prefix of every cache entry made from this raw file (`raw-<12 hex>-…`). */
export function rawCachePrefix(rawFile: string): string {
  return `raw-${createHash('sha256').update(path.resolve(rawFile)).digest('hex').slice(0, 12)}-`;
}
