#pragma once
// Debug counters proving where engine work runs: every Engine and Probe entry point records
// whether it ran on the process's compute thread (compute_thread.h). Read from JS through
// threadAudit() (test/unit/compute-thread.test.ts); a handful of atomics, cheap enough to keep on.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace spact {

struct ThreadAudit {
  std::atomic<uint64_t> onCompute{0}, offCompute{0};
  std::mutex mu;
  std::vector<std::string> offNames;  // the first entry points seen off the compute thread
};

inline ThreadAudit& threadAudit() {
  static ThreadAudit* audit = new ThreadAudit();
  return *audit;
}

/** Set once by the compute thread when it starts. */
inline std::atomic<std::thread::id>& computeThreadId() {
  static std::atomic<std::thread::id> id{};
  return id;
}

inline void recordThread(const char* what) {
  auto& a = threadAudit();
  if (std::this_thread::get_id() == computeThreadId().load()) {
    a.onCompute.fetch_add(1);
    return;
  }
  a.offCompute.fetch_add(1);
  std::lock_guard<std::mutex> lock(a.mu);
  if (a.offNames.size() < 16) a.offNames.emplace_back(what);
}

}  // namespace spact
