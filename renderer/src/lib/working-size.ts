// The working size as the screens show and edit it. The limits are the contract's: the type below
// makes the typecheck fail if these numbers ever differ from electron/core/media/working-size.ts.
import type { RoomView, WorkingSize, WorkingSizeLimits } from '../../../electron/contract';

export const WORKING_SIZE: WorkingSizeLimits = { min: 112, max: 2160 };

/** An editable working size: the mode and the number kept apart, so switching modes keeps the number. */
export interface WorkingSizeDraft {
  mode: 'auto' | 'fixed';
  px: number;
}

export function toDraft(size: WorkingSize, fallbackPx = 480): WorkingSizeDraft {
  return size === 'auto' ? { mode: 'auto', px: fallbackPx } : { mode: 'fixed', px: size };
}

/** The draft as a contract value, or an error message for a number out of the limits. */
export function fromDraft(d: WorkingSizeDraft): { value: WorkingSize } | { error: string } {
  if (d.mode === 'auto') return { value: 'auto' };
  const px = Number(d.px);
  if (!Number.isInteger(px) || px < WORKING_SIZE.min || px > WORKING_SIZE.max)
    return { error: `the working size is a whole number of pixels from ${WORKING_SIZE.min} to ${WORKING_SIZE.max}` };
  return { value: px };
}

/** "480 px" or "480–576 px" for the room's clips, or null when it has none. */
export function resolvedText(room: RoomView): string | null {
  const r = room.resolvedWorkingSize;
  if (!r) return null;
  return r.min === r.max ? `${r.min} px` : `${r.min}–${r.max} px`;
}

/** What 'auto' follows in a room, in words. */
export function measuredText(room: RoomView): string {
  const p = room.personHeight;
  if (!p) return 'people not measured yet (measured on the first anonymization)';
  const when = new Date(p.measuredAt).toLocaleString();
  const on = `${p.frames} frame${p.frames === 1 ? '' : 's'} of ${p.files} clip${p.files === 1 ? '' : 's'}, ${when}`;
  return p.fraction === null
    ? `nobody found in ${on}: follows the clips' own size`
    : `people ${(100 * p.fraction).toFixed(1)}% of the frame height (20th percentile of ${p.persons}) in ${on}`;
}
