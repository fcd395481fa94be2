#pragma once
#include <napi.h>

namespace spact {
// Benchmark helpers (bench/engine.ts): a bare C++ minimax loop through the engine, a naive libtorch
// loop doing the same math the straightforward way, and a GEMM peak measurement.
void RegisterBench(Napi::Env env, Napi::Object exports);
}  // namespace spact
