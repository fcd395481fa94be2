// Rooms: their model, working size, retention, raw data, deletion.
import { SpactError } from '../errors.js';
import type { HandlerDeps, HandlersOf } from './deps.js';
import { currentModelOf, enqueueAnonymize } from './library.js';

export const roomHandlers = (d: HandlerDeps): HandlersOf<'rooms'> => {
  const { core, session } = d;
  return {
    'rooms.list': () => core.library.rooms(),
    'rooms.create': (r) => {
      session.require('operator', 'creating rooms');
      return core.library.createRoom(r.name);
    },
    'rooms.setModel': (r) => {
      session.require('operator', 'choosing a room model');
      core.audit.record(session.current, 'room-model', `room:${r.roomId}`, { modelId: r.modelId });
      return core.library.setActiveModel(r.roomId, r.modelId);
    },
    'rooms.setSize': (r) => {
      session.require('operator', "changing a room's working size");
      const { roomId, ...change } = r;
      const room = core.library.setRoomSize(roomId, change);
      core.audit.record(session.current, 'room-size', `room:${roomId}`, change);
      return room;
    },
    'rooms.measure': async (r) => {
      session.require('operator', 'measuring people in a room');
      return core.anonymize.measureRoom(r.roomId);
    },
    'rooms.delete': (r) => {
      session.require('operator', 'deleting rooms');
      const report = core.library.deleteRoom(r.roomId);
      core.audit.record(session.current, 'room-delete', `room:${r.roomId}`, {
        clips: report.clips,
        files: report.files.length,
        bytes: report.bytes,
      });
      return { deleted: r.roomId, clips: report.clips, files: report.files.length, bytes: report.bytes };
    },
    'rooms.setRetention': (r) => {
      session.require('admin', 'retention');
      const room = core.library.setRetention(r.roomId, r.days);
      core.audit.record(session.current, 'room-retention', `room:${r.roomId}`, { days: r.days });
      return room;
    },
    'rooms.rawData': (r) => {
      session.require('admin', 'where raw data lives');
      const entries = core.library.rawData(r.roomId);
      return { roomId: r.roomId, entries, totalBytes: entries.reduce((a, e) => a + e.bytes, 0) };
    },
    'rooms.reanonymize': (r) => {
      session.require('admin', 'anonymizing a room again');
      core.library.room(r.roomId);
      const modelId = currentModelOf(d, r.roomId);
      if (modelId === null)
        throw new SpactError(
          'not-found',
          'no model: the default model is not installed and none is chosen in Settings',
        );
      const clipIds = core.library.clipsMadeWithOtherModel(r.roomId, modelId);
      const jobIds = clipIds.map((clipId) => enqueueAnonymize(d, clipId, modelId));
      core.audit.record(session.current, 'room-reanonymize', `room:${r.roomId}`, { modelId, clips: clipIds });
      return { modelId, clipIds, jobIds };
    },
  };
};
