// Fine-tune runs of a room's model.
import { chooseModel, type HandlerDeps, type HandlersOf } from './deps.js';

export const runHandlers = (d: HandlerDeps): HandlersOf<'runs'> => {
  const { core, session, runs } = d;
  return {
    'runs.list': () => runs.list(),
    'runs.get': (r) => runs.get(r.runId),
    'runs.start': (r) => {
      session.require('operator', 'fine-tuning');
      const base = chooseModel(d, r.baseModelId, r.roomId);
      return runs.start({
        roomId: r.roomId,
        baseModelId: base,
        ...(r.recipe ? { recipe: r.recipe } : {}),
        ...(r.steps !== undefined ? { steps: r.steps } : {}),
        ...(r.clips !== undefined ? { clips: r.clips } : {}),
      });
    },
    'runs.cancel': (r) => {
      session.require('operator', 'cancelling runs');
      return runs.cancel(r.runId);
    },
    'runs.resume': (r) => {
      session.require('operator', 'resuming runs');
      return runs.resume(r.runId);
    },
    'runs.metrics': (r) => runs.metrics(r.runId),
    'runs.promote': (r) => {
      session.require('operator', 'promoting a model');
      core.audit.record(session.current, 'promote', `run:${r.runId}`, { roomId: r.roomId });
      return runs.promote(r.runId, r.roomId);
    },
  };
};
