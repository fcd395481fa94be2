// N-API entry point of the SPAct engine. Each feature registers its exports from its own file.
#include <napi.h>

#include "bench.h"
#include "engine_napi.h"
#include "info.h"

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  spact::RegisterInfo(env, exports);
  spact::RegisterEngine(env, exports);
  spact::RegisterBench(env, exports);
  return exports;
}

NODE_API_MODULE(spact_native, Init)
