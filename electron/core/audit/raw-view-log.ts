// One raw view of a clip, one audit entry (see RawViewLog).
/**
 * Raw views of clips, one audit entry each: a view starts with clips.rawAccess (always recorded) or
 * with a media request when the clip was not being viewed; media requests within RAW_VIEW_IDLE_MS
 * of the view's last request belong to it.
 */
export const RAW_VIEW_IDLE_MS = 60_000;
export class RawViewLog {
  private readonly lastSeen = new Map<number, number>();

  constructor(
    private readonly record: (clipId: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(clipId: number): void {
    this.record(clipId);
    this.lastSeen.set(clipId, this.now());
  }

  touch(clipId: number): void {
    const last = this.lastSeen.get(clipId);
    if (last === undefined || this.now() - last > RAW_VIEW_IDLE_MS) this.record(clipId);
    this.lastSeen.set(clipId, this.now());
  }
}
