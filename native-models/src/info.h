#pragma once
#include <napi.h>

namespace spact {
// info(): libtorch version, CUDA availability and thread count, so the app can show what it runs on.
// dot(a, b): dot product of two Float32Arrays computed by libtorch (proves the build links and runs).
void RegisterInfo(Napi::Env env, Napi::Object exports);
}  // namespace spact
