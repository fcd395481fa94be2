#include "info.h"

#include <torch/torch.h>
#include <torch/version.h>

namespace spact {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  out.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  out.Set("cudaDevices", Napi::Number::New(env, static_cast<double>(torch::cuda::device_count())));
  out.Set("threads", Napi::Number::New(env, at::get_num_threads()));
  return out;
}

Napi::Value Dot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    throw Napi::TypeError::New(env, "dot(a, b) expects two Float32Arrays");
  }
  auto a = info[0].As<Napi::TypedArray>();
  auto b = info[1].As<Napi::TypedArray>();
  if (a.TypedArrayType() != napi_float32_array || b.TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "dot(a, b) expects two Float32Arrays");
  }
  if (a.ElementLength() != b.ElementLength()) {
    throw Napi::RangeError::New(env, "dot(a, b): arrays differ in length (" + std::to_string(a.ElementLength()) +
                                         " vs " + std::to_string(b.ElementLength()) + ")");
  }
  auto fa = a.As<Napi::Float32Array>();
  auto fb = b.As<Napi::Float32Array>();
  const auto n = static_cast<int64_t>(fa.ElementLength());
  // from_blob borrows the JS-owned memory only for the duration of this synchronous call.
  auto ta = torch::from_blob(fa.Data(), {n}, torch::kFloat32);
  auto tb = torch::from_blob(fb.Data(), {n}, torch::kFloat32);
  return Napi::Number::New(env, torch::dot(ta, tb).item<double>());
}

}  // namespace

void RegisterInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("dot", Napi::Function::New(env, Dot, "dot"));
}

}  // namespace spact
