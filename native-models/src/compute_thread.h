#pragma once
// Shared N-API plumbing: the process's one compute thread, promise settlement back on the JS
// thread, error-kind prefixes, copies of JS typed arrays into tensors without libtorch kernels, and
// readers for plain config objects.
#include <napi.h>
#include <torch/torch.h>

#include <unistd.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine.h"
#include "thread_audit.h"

namespace spact {
namespace detail {

// Errors carry a bracketed kind prefix that the TypeScript wrapper maps to error classes.
inline std::string kindMessage(const std::exception& e) {
  if (dynamic_cast<const NonFiniteError*>(&e)) return std::string("[non-finite] ") + e.what();
  if (dynamic_cast<const BadInputError*>(&e)) return std::string("[bad-input] ") + e.what();
  if (dynamic_cast<const std::invalid_argument*>(&e)) return std::string("[bad-input] ") + e.what();
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return std::string("[torch] ") + c->what_without_backtrace();
  return std::string("[internal] ") + e.what();
}

/**
 * A JS Error for a "[kind] message" string: the message without the prefix, and `code` = the kind
 * (bad-input, non-finite, busy, torch, internal), which the TypeScript side parses against its
 * list (native-models/ts/engine.ts, mapNativeError). Used for every error the addon raises.
 */
inline Napi::Error KindError(Napi::Env env, const std::string& text) {
  std::string kind = "internal", message = text;
  if (text.size() > 2 && text[0] == '[') {
    const auto close = text.find("] ");
    if (close != std::string::npos) {
      kind = text.substr(1, close - 1);
      message = text.substr(close + 2);
    }
  }
  auto error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, kind));
  return error;
}
inline Napi::Error KindError(Napi::Env env, const std::exception& e) { return KindError(env, kindMessage(e)); }

struct TaskResult {
  Stats stats;
  torch::Tensor tensor;  // uint8 output
  std::string text;
  double number = 0;
  enum { kStats, kTensor, kFloats, kText, kNumber, kNone } kind = kNone;
};

/**
 * How many of the requested threads to use now. An OpenMP team that shares its CPUs with another
 * busy process waits at every barrier for a descheduled member: measured on 2 cores with one busy
 * process, 2 threads took 475–540 ms per minimax iteration, 1 thread 400 ms (and 210–290 ms for 2
 * threads when quiet). So while other processes keep CPUs busy, the team shrinks to the CPUs left
 * (at least 1). Linux: CPU time of the whole machine minus this process's, from /proc, sampled at
 * most twice a second; a change needs two samples in a row (no flapping). SPACT_ADAPTIVE_THREADS=0
 * turns it off; elsewhere the requested count is used as is.
 */
class ContentionMonitor {
 public:
  ContentionMonitor() {
    const char* env = std::getenv("SPACT_ADAPTIVE_THREADS");
    enabled_ = !(env && std::string(env) == "0");
#ifndef __linux__
    enabled_ = false;
#endif
  }
  int64_t Effective(int64_t requested) {
    if (!enabled_ || requested <= 1) return requested;
    const auto now = std::chrono::steady_clock::now();
    if (sampled_ && now - lastSample_ < std::chrono::milliseconds(500)) return clampTo(requested);
    double machine = 0, self = 0;
    if (!readCpu(machine, self)) return requested;
    if (sampled_) {
      const double seconds = std::chrono::duration<double>(now - lastSample_).count();
      const double others = std::max(0.0, (machine - lastMachine_) - (self - lastSelf_)) / seconds;  // in CPUs
      const int64_t cpus = static_cast<int64_t>(std::thread::hardware_concurrency());
      // CPUs left when the others' load is rounded to whole CPUs (0.3 of a CPU leaves the team whole).
      const int64_t free = std::max<int64_t>(1, cpus - static_cast<int64_t>(std::floor(others + 0.3)));
      if (free == candidate_) {
        if (++agree_ >= 2) free_ = free;
      } else {
        candidate_ = free;
        agree_ = 1;
      }
    }
    sampled_ = true;
    lastSample_ = now;
    lastMachine_ = machine;
    lastSelf_ = self;
    return clampTo(requested);
  }

 private:
  int64_t clampTo(int64_t requested) const { return free_ > 0 ? std::max<int64_t>(1, std::min(requested, free_)) : requested; }
  /** Busy CPU-seconds of the machine (/proc/stat) and of this process (/proc/self/stat). */
  static bool readCpu(double& machine, double& self) {
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::ifstream stat("/proc/stat");
    std::string cpu;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return false;
    machine = (user + nice + system + irq + softirq) / tick;
    std::ifstream own("/proc/self/stat");
    std::string line;
    if (!std::getline(own, line)) return false;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    self = (utime + stime) / tick;
    return true;
  }
  bool enabled_ = true, sampled_ = false;
  int64_t free_ = 0, candidate_ = 0, agree_ = 0;
  double lastMachine_ = 0, lastSelf_ = 0;
  std::chrono::steady_clock::time_point lastSample_;
};

/**
 * The process's one compute thread: every libtorch call of every engine and probe — construction,
 * weight layout copies, loading, steps, inference, benchmarks — runs here, in order. libgomp keeps
 * one OpenMP team per calling thread; work split over two threads (the JS thread and a compute
 * thread, or one thread per engine) made every parallel region pay a wake-up of the other team's
 * workers on the same CPUs (~+40% per minimax iteration, issue 12). One thread also means warm
 * caches and training never occupies the libuv pool that file and network I/O need.
 */
class ComputeThread {
 public:
  ComputeThread() : thread_([this] { Loop(); }) {}
  ComputeThread(const ComputeThread&) = delete;
  ComputeThread& operator=(const ComputeThread&) = delete;
  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  bool IsCurrent() const { return std::this_thread::get_id() == thread_.get_id(); }

  /** Runs `fn` here and waits for it (for synchronous N-API methods); rethrows its exception. */
  template <typename Fn>
  auto Call(Fn fn) -> decltype(fn()) {
    if (IsCurrent()) return fn();
    using R = decltype(fn());
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    auto result = task->get_future();
    Post([task] { (*task)(); });
    return result.get();
  }

  /**
   * Applies the process's thread count before a job: the requested count, lowered while other
   * processes keep CPUs busy (ContentionMonitor). Only a change calls at::set_num_threads: in
   * libtorch 1.13 it also clears oneDNN's primitive cache (~30–40 ms per minimax iteration when it
   * was called before every step). 0 keeps libtorch's default. Compute thread only.
   */
  void ApplyThreads(int64_t threads) {
    if (threads <= 0) return;
    const int64_t effective = monitor_.Effective(threads);
    if (effective == appliedThreads_.load()) return;
    at::set_num_threads(static_cast<int>(effective));
    appliedThreads_.store(effective);
    threadChanges_.fetch_add(1);
  }
  uint64_t ThreadChanges() const { return threadChanges_.load(); }
  int64_t AppliedThreads() const { return appliedThreads_.load(); }

 private:
  /**
   * The compute thread (and the OpenMP team it creates, which inherits it) runs at a lower
   * priority, nice SPACT_COMPUTE_NICE (default 10; 0 keeps it): on a busy machine the thread that
   * answers the window then gets a CPU at once, while training and anonymizing lose nothing when
   * the CPUs are otherwise idle (bench:latency: p99 of a trivial call 127 → 39 ms under load).
   */
  static void LowerPriority() {
#ifdef __linux__
    const char* env = std::getenv("SPACT_COMPUTE_NICE");
    const int nice = env ? std::atoi(env) : 10;
    if (nice > 0) setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
#endif
  }

  void Loop() {
    computeThreadId().store(std::this_thread::get_id());
    LowerPriority();
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::atomic<int64_t> appliedThreads_{-1};
  std::atomic<uint64_t> threadChanges_{0};
  ContentionMonitor monitor_;
  std::thread thread_;
};

/** The one compute thread of this process, created on first use and never destroyed: joining it
 *  at exit would race libtorch's own static teardown. */
inline ComputeThread& Process() {
  static ComputeThread* thread = new ComputeThread();
  return *thread;
}

/** A tensor holding a copy of `bytes` bytes (torch::empty + memcpy: no libtorch kernel, so no
 *  OpenMP team on the calling thread — from_blob().clone() runs a parallel copy). */
inline torch::Tensor CopyToTensor(const void* data, size_t bytes, at::IntArrayRef sizes, torch::Dtype dtype) {
  auto t = torch::empty(sizes, torch::TensorOptions().dtype(dtype));
  if (bytes) std::memcpy(t.data_ptr(), data, bytes);
  return t;
}

/** Outcome of one job, handed from the compute thread back to the JS thread. */
struct Pending {
  Napi::Promise::Deferred deferred;
  std::shared_ptr<std::atomic<bool>> busy;
  TaskResult result;
  std::string error;
  bool failed = false;
};

inline void Settle(Napi::Env env, Napi::Function, void*, Pending* p) {
  std::unique_ptr<Pending> owned(p);
  if (owned->busy) owned->busy->store(false);
  if (env == nullptr) return;  // environment shutting down
  if (owned->failed) {
    owned->deferred.Reject(KindError(env, owned->error).Value());
    return;
  }
  auto& r = owned->result;
  switch (r.kind) {
    case TaskResult::kStats: {
      auto o = Napi::Object::New(env);
      for (const auto& [k, v] : r.stats) o.Set(k, Napi::Number::New(env, v));
      owned->deferred.Resolve(o);
      break;
    }
    case TaskResult::kTensor: {
      auto t = r.tensor.contiguous();
      const size_t bytes = static_cast<size_t>(t.numel());
      auto out = Napi::Uint8Array::New(env, bytes);
      if (bytes) std::memcpy(out.Data(), t.data_ptr<uint8_t>(), bytes);
      owned->deferred.Resolve(out);
      break;
    }
    case TaskResult::kFloats: {
      auto t = r.tensor.contiguous();
      const size_t count = static_cast<size_t>(t.numel());
      auto out = Napi::Float32Array::New(env, count);
      if (count) std::memcpy(out.Data(), t.data_ptr<float>(), count * sizeof(float));
      owned->deferred.Resolve(out);
      break;
    }
    case TaskResult::kText:
      owned->deferred.Resolve(Napi::String::New(env, r.text));
      break;
    case TaskResult::kNumber:
      owned->deferred.Resolve(Napi::Number::New(env, r.number));
      break;
    default:
      owned->deferred.Resolve(env.Undefined());
  }
}

using SettleFn = Napi::TypedThreadSafeFunction<void, Pending, Settle>;

/** Runs `task` on the compute thread (after applying `threads`, see ApplyThreads) and returns a
 *  promise settled on the JS thread. */
inline Napi::Value RunOn(Napi::Env env, std::shared_ptr<std::atomic<bool>> busy, int64_t threads,
                         std::function<TaskResult()> task) {
  auto* pending = new Pending{Napi::Promise::Deferred::New(env), std::move(busy), {}, {}, false};
  auto promise = pending->deferred.Promise();
  // The thread-safe function keeps the event loop alive until the job has settled.
  auto tsfn = std::make_shared<SettleFn>(SettleFn::New(env, Napi::Function(), "spact-engine", 0, 1));
  Process().Post([pending, tsfn, threads, task = std::move(task)]() {
    try {
      Process().ApplyThreads(threads);
      pending->result = task();
    } catch (const std::exception& e) {
      pending->failed = true;
      pending->error = kindMessage(e);
    }
    tsfn->BlockingCall(pending);
    tsfn->Release();
  });
  return promise;
}

/** Runs `fn` on the compute thread and waits (synchronous N-API methods: constructors, describe). */
template <typename Fn>
auto CallOn(int64_t threads, Fn fn) -> decltype(fn()) {
  return Process().Call([threads, fn = std::move(fn)]() mutable {
    Process().ApplyThreads(threads);
    return fn();
  });
}

inline std::vector<int64_t> intList(const Napi::Object& o, const char* key, std::vector<int64_t> fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  auto v = o.Get(key);
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).As<Napi::Number>().Int64Value());
  return out;
}
inline double num(const Napi::Object& o, const char* key, double fallback) {
  return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().DoubleValue() : fallback;
}
inline int64_t integer(const Napi::Object& o, const char* key, int64_t fallback) {
  return o.Has(key) && o.Get(key).IsNumber() ? o.Get(key).As<Napi::Number>().Int64Value() : fallback;
}
inline bool boolean(const Napi::Object& o, const char* key, bool fallback) {
  return o.Has(key) && o.Get(key).IsBoolean() ? o.Get(key).As<Napi::Boolean>().Value() : fallback;
}
inline std::string str(const Napi::Object& o, const char* key, const std::string& fallback) {
  return o.Has(key) && o.Get(key).IsString() ? o.Get(key).As<Napi::String>().Utf8Value() : fallback;
}
inline Napi::Object sub(const Napi::Object& o, const char* key) {
  return o.Has(key) && o.Get(key).IsObject() ? o.Get(key).As<Napi::Object>() : Napi::Object::New(o.Env());
}


}  // namespace detail
}  // namespace spact
