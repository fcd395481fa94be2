// f_A alone, for inference (engine.h, Anonymizer): anonymizing a clip or a live frame builds
// neither f_T nor f_B nor any optimizer. Loading is in engine_checkpoint.cc, the frame math
// (anonymizeFrames) in engine_steps.cc, shared with the training engine.
#include "engine.h"
#include "thread_audit.h"

namespace spact {

Anonymizer::Anonymizer(const UNetConfig& cfg, const std::string& device) : device_(resolveDevice(device)) {
  recordThread("Anonymizer::Anonymizer");
  fA = UNet(cfg);
  fA->to(device_);
  fA->applyMemoryFormat();
  fA->eval();
}

double Anonymizer::fingerprint() const {
  recordThread("Anonymizer::fingerprint");
  torch::NoGradGuard ng;
  double t = 0;
  for (const auto& p : fA->parameters()) t += p.abs().sum().item<double>();
  return t;
}

}  // namespace spact
