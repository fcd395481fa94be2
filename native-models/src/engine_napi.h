#pragma once
#include <napi.h>

#include "engine.h"

namespace spact {
/** Reads an engine config from a plain JS object (already validated by the TypeScript schema). */
EngineConfig parseEngineConfig(const Napi::Object& config);
/** Exports Engine, AnonymizerNet, readCheckpointMeta, ntXentDebug and threadAudit. */
void RegisterEngine(Napi::Env env, Napi::Object exports);
}  // namespace spact
