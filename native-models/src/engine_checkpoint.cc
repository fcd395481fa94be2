// Checkpoint I/O: one libtorch archive holding the networks, the MoCo state, the optimizers
// (unless weights only) and the run's meta string (JSON written by the TypeScript side).
#include "engine.h"

#include "thread_audit.h"

namespace spact {

namespace {
void writeModule(torch::serialize::OutputArchive& root, const std::string& key, const torch::nn::Module& m) {
  torch::serialize::OutputArchive a;
  m.save(a);
  root.write(key, a);
}
void readModule(torch::serialize::InputArchive& root, const std::string& key, torch::nn::Module& m) {
  torch::serialize::InputArchive a;
  root.read(key, a);
  m.load(a);
}
}  // namespace

void Engine::save(const std::string& path, const std::string& meta, bool weightsOnly) {
  recordThread("Engine::save");
  {
    // A diverged network must never replace a good checkpoint.
    torch::NoGradGuard ng;
    for (const auto& [name, m] : {std::pair<const char*, torch::nn::Module*>{"f_A", fA.get()}, {"f_T", fT.get()}, {"f_B", fB.get()},
                                  {"f_U", fU ? fU.get() : nullptr}, {"f_Bid", fBid ? fBid.get() : nullptr},
                                  {"the identity projection", projId ? projId.get() : nullptr}}) {
      if (!m) continue;
      for (const auto& p : m->parameters()) {
        if (!torch::isfinite(p).all().item<bool>()) throw NonFiniteError(std::string("refusing to checkpoint non-finite weights of ") + name);
      }
    }
  }
  torch::serialize::OutputArchive root;
  root.write("format", c10::IValue(std::string("spact-checkpoint-v1")));
  root.write("meta", c10::IValue(meta));
  writeModule(root, "fA", *fA);
  writeModule(root, "fT", *fT);
  writeModule(root, "fB", *fB);
  if (proj) writeModule(root, "proj", *proj);
  if (fATeacher) writeModule(root, "fATeacher", *fATeacher);
  if (fTTeacher) writeModule(root, "fTTeacher", *fTTeacher);
  if (rotHead) writeModule(root, "rotHead", *rotHead);
  if (privHead) writeModule(root, "privHead", *privHead);
  if (fU) {
    writeModule(root, "fU", *fU);
    writeModule(root, "fBid", *fBid);
    writeModule(root, "projId", *projId);
  }
  if (keyEnc_) {
    writeModule(root, "keyEnc", *keyEnc_);
    writeModule(root, "keyProj", *keyProj_);
    root.write("mocoQueue", queue_, true);
    root.write("mocoQueuePtr", c10::IValue(queuePtr_));
  }
  root.write("hasOptimizer", c10::IValue(!weightsOnly));
  if (!weightsOnly) {
    for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optA", optA_.get()}, {"optT", optT_.get()}, {"optB", optB_.get()},
                             {"optU", optU_.get()}, {"optBid", optBid_.get()}}) {
      if (!opt) continue;
      torch::serialize::OutputArchive a;
      opt->save(a);
      root.write(key, a);
    }
  }
  root.save_to(path);
}

std::string Engine::readMeta(const std::string& path) {
  torch::serialize::InputArchive root;
  root.load_from(path, torch::Device(torch::kCPU));
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isString() || format.toStringRef() != "spact-checkpoint-v1") {
    throw BadInputError("not a SPAct checkpoint");
  }
  c10::IValue meta;
  root.read("meta", meta);
  return meta.toStringRef();
}

std::string Engine::load(const std::string& path, bool weightsOnly, bool onlyAnonymizer) {
  recordThread("Engine::load");
  torch::serialize::InputArchive root;
  root.load_from(path, device_);
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isString() || format.toStringRef() != "spact-checkpoint-v1") {
    throw BadInputError("not a SPAct checkpoint");
  }
  readModule(root, "fA", *fA);
  fA->applyMemoryFormat();
  // Teachers: starting from a base (weights only), its networks become the frozen teachers;
  // resuming a run, the teachers it saved (its networks have moved on since).
  auto loadTeacher = [&](const char* key, torch::nn::Module& teacher, const torch::nn::Module& source) {
    torch::serialize::InputArchive saved;
    if (!weightsOnly && root.try_read(key, saved)) {
      teacher.load(saved);
      return;
    }
    torch::NoGradGuard ng;
    auto dst = teacher.named_parameters();
    for (const auto& p : source.named_parameters()) dst[p.key()].copy_(p.value());
    auto dstB = teacher.named_buffers();
    for (const auto& b : source.named_buffers()) dstB[b.key()].copy_(b.value());
  };
  if (fATeacher) {
    loadTeacher("fATeacher", *fATeacher, *fA);
    fATeacher->applyMemoryFormat();
    fATeacher->eval();
  }
  if (onlyAnonymizer) {
    c10::IValue meta;
    root.read("meta", meta);
    return meta.toStringRef();
  }
  readModule(root, "fT", *fT);
  if (fTTeacher) {
    loadTeacher("fTTeacher", *fTTeacher, *fT);
    fTTeacher->eval();
  }
  readModule(root, "fB", *fB);
  if (proj) readModule(root, "proj", *proj);
  if (rotHead) readModule(root, "rotHead", *rotHead);
  if (privHead) readModule(root, "privHead", *privHead);
  // Room networks exist only in room runs: a base trained elsewhere leaves them freshly initialised.
  bool roomNetsLoaded = false;
  if (fU) {
    torch::serialize::InputArchive u;
    if (root.try_read("fU", u)) {
      fU->load(u);
      readModule(root, "fBid", *fBid);
      readModule(root, "projId", *projId);
      roomNetsLoaded = true;
    }
  }
  if (keyEnc_) {
    readModule(root, "keyEnc", *keyEnc_);
    readModule(root, "keyProj", *keyProj_);
    root.read("mocoQueue", queue_, true);
    c10::IValue ptr;
    root.read("mocoQueuePtr", ptr);
    queuePtr_ = ptr.toInt();
  }
  c10::IValue hasOptimizer;
  const bool withOptimizer = !root.try_read("hasOptimizer", hasOptimizer) || hasOptimizer.toBool();
  if (!weightsOnly && withOptimizer) {
    for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optA", optA_.get()}, {"optT", optT_.get()}, {"optB", optB_.get()}}) {
      torch::serialize::InputArchive a;
      root.read(key, a);
      opt->load(a);
    }
    if (roomNetsLoaded) {
      for (auto& [key, opt] : {std::pair<const char*, torch::optim::Adam*>{"optU", optU_.get()}, {"optBid", optBid_.get()}}) {
        torch::serialize::InputArchive a;
        if (root.try_read(key, a)) opt->load(a);
      }
    }
  }
  c10::IValue meta;
  root.read("meta", meta);
  return meta.toStringRef();
}

std::string Anonymizer::load(const std::string& path) {
  recordThread("Anonymizer::load");
  torch::serialize::InputArchive root;
  root.load_from(path, device_);
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isString() || format.toStringRef() != "spact-checkpoint-v1") {
    throw BadInputError("not a SPAct checkpoint");
  }
  // Only f_A: the archive's other networks and optimizer state are never built here.
  readModule(root, "fA", *fA);
  fA->applyMemoryFormat();
  fA->eval();
  c10::IValue meta;
  root.read("meta", meta);
  return meta.toStringRef();
}

}  // namespace spact
