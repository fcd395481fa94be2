// N-API entry point of the SPAct engine. Each feature registers its exports from its own file.
#include <napi.h>
#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>
#include <cstring>

#include "bench.h"
#include "engine_napi.h"
#include "info.h"
#include "probe_napi.h"

namespace {
bool envOff(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "0") == 0;
}
}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(__GLIBC__)
  // Training allocates and frees the same large activation buffers every step. glibc would serve
  // them with fresh mmaps and return them to the OS each time (page faults: ~25% system time);
  // keeping them in the heap cut a minimax iteration by ~10%. SPACT_MALLOC_TUNING=0 disables.
  if (!envOff("SPACT_MALLOC_TUNING")) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest glibc accepts on 64-bit
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
#endif
  // Denormal floats are slow on x86 and carry no useful signal in these networks.
  if (!envOff("SPACT_FLUSH_DENORMAL")) at::globalContext().setFlushDenormal(true);
  spact::RegisterInfo(env, exports);
  spact::RegisterEngine(env, exports);
  spact::RegisterBench(env, exports);
  spact::RegisterProbe(env, exports);
  return exports;
}

NODE_API_MODULE(spact_native, Init)
