#pragma once
#include <napi.h>

namespace spact {
/** Exports Probe (evaluation target models). */
void RegisterProbe(Napi::Env env, Napi::Object exports);
}  // namespace spact
