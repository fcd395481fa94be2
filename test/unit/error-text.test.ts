// The renderer's errors in words (renderer/src/lib/error-text.ts): every error kind of the contract
// has a sentence that says what happened and what to do; payload-check wording, internal paths and
// tool output never come through, and messages already written for people do.
import { afterEach, describe, expect, it } from 'vitest';

import { ErrorKind } from '../../electron/contract.js';
import { errorText, isForPeople, KIND_TEXT, setInternalRoots } from '../../renderer/src/lib/error-text.js';

const DEVELOPER = /invalid payload|Invalid input|Too small|expected \w+|received|moov|upload-[0-9a-f]+|\/tmp\/|ENOENT/;

afterEach(() => setInternalRoots([]));

describe('errorText', () => {
  it('has a sentence with what to do for every error kind the contract can return', () => {
    for (const kind of ErrorKind.options) {
      const text = KIND_TEXT[kind];
      expect(text, kind).toMatch(/^[A-Z].*\.$/s);
      expect(text.split('. ').length, `${kind}: what happened and what to do`).toBeGreaterThanOrEqual(2);
      // A message in developer wording falls back to the kind's sentence.
      expect(
        errorText({ kind, message: 'invalid input: expected string, received undefined at /tmp/x (ENOENT)' }),
      ).toBe(text);
    }
  });

  it('turns payload checks into the rule of the field', () => {
    expect(
      errorText({
        kind: 'validation',
        message: 'invalid payload for exports.start: roomId: Invalid input: expected number, received null',
      }),
    ).toBe('Choose a room first.');
    expect(
      errorText({
        kind: 'validation',
        message: 'invalid payload for exports.start: clipIds: Too small: expected array to have >=1 items',
      }),
    ).toBe('Choose at least one clip first.');
    expect(
      errorText({ kind: 'validation', message: 'invalid payload for session.setPin: pin: a PIN is 4–12 digits' }),
    ).toMatch(/6 to 12 digits/);
    expect(
      errorText({ kind: 'validation', message: 'invalid payload for rooms.list: (root): Unrecognized key: "x"' }),
    ).toBe(KIND_TEXT.validation);
  });

  it('never shows internal paths or tool output', () => {
    const upload = '/tmp/spact-data/uploads/upload-0123456789abcdef.part';
    const unreadable = errorText({
      kind: 'bad-input',
      message: `${upload}: not a readable video (moov atom not found)`,
    });
    expect(unreadable).toMatch(/not a video SPAct can read.*convert it to MP4/);
    expect(unreadable).not.toMatch(DEVELOPER);
    expect(errorText(`${upload}: the file is empty (0 bytes)`)).toBe(
      'This file is empty (0 bytes). Check the file, then import it again.',
    );
    // Paths in the data folder are internal once the folder is known.
    setInternalRoots(['/home/ward/.spact']);
    expect(errorText({ kind: 'conflict', message: 'the lock /home/ward/.spact/library.db-wal is held' })).toBe(
      KIND_TEXT.conflict,
    );
    expect(
      errorText({ kind: 'not-found', message: 'clip 3: its file /home/ward/.spact/clips/3-ward.mp4 is missing' }),
    ).toMatch(/^The clip's video file is missing.*import the video again\.$/);
    expect(isForPeople('the export folder /srv/exports is not empty')).toBe(true);
    expect(isForPeople('stuck in /home/ward/.spact/runs/4')).toBe(false);
  });

  it("reads a failed job's stored error (kind: message)", () => {
    const job =
      'bad-input: /tmp/d/clips/75c7.mp4.sealed: could not read frames (/tmp/d/clips/75c7.mp4.sealed: Invalid data found when processing input)';
    expect(errorText(job)).toMatch(/^This file is not a video SPAct can read/);
    expect(errorText('conflict: run 4 is running; only cancelled or failed runs resume')).toBe(
      'run 4 is running; only cancelled or failed runs resume',
    );
    expect(errorText('internal: SQLITE_BUSY: database is locked')).toBe(KIND_TEXT.internal);
  });

  it('says which role is needed and where to switch', () => {
    expect(errorText({ kind: 'forbidden', message: 'exporting needs the operator role (current role: viewer)' })).toBe(
      'Exporting needs the operator role; you are signed in as viewer. Switch role in Settings (the role may need its PIN).',
    );
  });

  it('keeps messages already written for people, and reads thrown errors and bare strings', () => {
    const proc =
      'the export folder /proc/nope/export is on a system file system (proc); choose a folder in your home or on a data disk';
    expect(errorText({ kind: 'validation', message: proc })).toBe(proc);
    expect(errorText(Object.assign(new Error('a room named "Ward 3" already exists'), { kind: 'conflict' }))).toBe(
      'a room named "Ward 3" already exists',
    );
    expect(errorText(Object.assign(new Error('TypeError: x is undefined'), { kind: 'nonsense' }))).toBe(
      KIND_TEXT.internal,
    );
    expect(
      errorText({ kind: 'unavailable', message: 'the SPAct service is not reachable (TypeError: Failed to fetch)' }),
    ).toMatch(/not answering.*reload the page/);
    expect(errorText({ kind: 'validation', message: 'upload larger than 4294967296 bytes' })).toMatch(/4\.0 GiB/);
  });
});
