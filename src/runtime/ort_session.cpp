#include "ort_session.h"

#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "execution_providers.h"
#include "ipfs_accel/core/error.h"
#include "runtime/ort_error.h"
#include "ort_tensor.h"

namespace ipfs_accel::runtime {

using core::Error;
using core::ErrorKind;

Ort::Env& OrtEnvironment() {
  // FATAL only: every error ORT raises reaches the user once, as our own one-line message.
  // IPFS_ACCEL_ORT_LOG=verbose|info|warning|error shows ORT's own log (placement, providers).
  // Never destroyed: releasing the environment at exit after CUDA runs can read memory that
  // libonnxruntime_providers_cuda.so already freed and abort with "corrupted double-linked list"
  // (seen on the H100 after clip-vit-base-patch32; a known ORT teardown-order bug). The OS
  // reclaims it.
  static Ort::Env* env = new Ort::Env(
      [] {
        const char* v = std::getenv("IPFS_ACCEL_ORT_LOG");
        const std::string level = v ? v : "";
        if (level == "verbose") return ORT_LOGGING_LEVEL_VERBOSE;
        if (level == "info") return ORT_LOGGING_LEVEL_INFO;
        if (level == "warning") return ORT_LOGGING_LEVEL_WARNING;
        if (level == "error") return ORT_LOGGING_LEVEL_ERROR;
        return ORT_LOGGING_LEVEL_FATAL;
      }(),
      "ipfs-accelerate");
  return *env;
}

namespace {

const ProviderDef& ProviderFor(const std::string& platform) {
  if (const ProviderDef* def = FindNativeProvider(platform)) return *def;
  throw Error(ErrorKind::kUnavailable,
              fmt::format("platform '{}' is not served by an ONNX Runtime execution provider in "
                          "this process; run `ipfs-accelerate detect` to see what is available",
                          platform));
}

GraphOptimizationLevel OptimizationLevel(int level) {
  switch (level) {
    case 0:
      return ORT_DISABLE_ALL;
    case 1:
      return ORT_ENABLE_BASIC;
    case 2:
      return ORT_ENABLE_EXTENDED;
    case 99:
      return ORT_ENABLE_ALL;
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("graph optimisation level {} is not one of 0, 1, 2, 99", level));
}

std::vector<TensorSpec> Specs(Ort::Session& session, bool inputs) {
  Ort::AllocatorWithDefaultOptions alloc;
  const size_t n = inputs ? session.GetInputCount() : session.GetOutputCount();
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < n; ++i) {
    TensorSpec spec;
    spec.name = inputs ? session.GetInputNameAllocated(i, alloc).get()
                       : session.GetOutputNameAllocated(i, alloc).get();
    // Keep the TypeInfo alive: the shape info is a view into it.
    Ort::TypeInfo type_info = inputs ? session.GetInputTypeInfo(i) : session.GetOutputTypeInfo(i);
    if (type_info.GetONNXType() != ONNX_TYPE_TENSOR)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("graph {} '{}' is not a tensor (sequences and maps are not "
                              "supported)",
                              inputs ? "input" : "output", spec.name));
    auto info = type_info.GetTensorTypeAndShapeInfo();
    spec.dtype = FromOrtType(info.GetElementType(), spec.name);
    spec.shape = info.GetShape();
    std::vector<const char*> names(spec.shape.size(), nullptr);
    if (!names.empty()) info.GetSymbolicDimensions(names.data(), names.size());
    for (const char* s : names) spec.dim_names.emplace_back(s ? s : "");
    out.push_back(std::move(spec));
  }
  return out;
}

// Where outputs=device leaves a platform's outputs: the memory its provider allocates in.
Ort::MemoryInfo OutputMemory(const std::string& platform,
                             const std::map<std::string, std::string>& provider_options) {
  if (platform == "cuda" || platform == "tensorrt") {
    const auto it = provider_options.find("device_id");
    int device = 0;
    try {
      device = it == provider_options.end() ? 0 : std::stoi(it->second);
    } catch (const std::exception&) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--ep-option device_id='{}' is not a device number", it->second));
    }
    return Ort::MemoryInfo("Cuda", OrtDeviceAllocator, device, OrtMemTypeDefault);
  }
  if (platform == "cpu" || platform == "openvino" || platform == "dnnl")
    return Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault);
  throw Error(ErrorKind::kUnsupported,
              fmt::format("--ep-option outputs=device is not known for platform '{}' (only cpu, "
                          "openvino, dnnl, cuda and tensorrt); leave it out",
                          platform));
}

}  // namespace

OrtSession::OrtSession(const models::Model& model, const SessionOptions& options)
    : options_(options) {
  const ProviderDef& def = ProviderFor(options.platform);
  provider_ = def.provider;
  Ort::SessionOptions so;
  if (options.intra_op_threads > 0) so.SetIntraOpNumThreads(options.intra_op_threads);
  if (options.inter_op_threads > 0) so.SetInterOpNumThreads(options.inter_op_threads);
  so.SetGraphOptimizationLevel(OptimizationLevel(options.graph_optimization_level));
  std::map<std::string, std::string> provider_options = options.provider_options;
  if (const auto it = provider_options.find("outputs"); it != provider_options.end()) {
    if (it->second == "device")
      output_memory_ = OutputMemory(def.platform, provider_options);
    else if (it->second != "host")
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--ep-option outputs='{}' is not host or device", it->second));
    provider_options.erase(it);  // ours, not the provider's
  }
  // Ours too: ONNX Runtime's CPU arena keeps what it grew to (by powers of two), which a
  // training step's parameter-sized buffers turn into gigabytes held (see design.md).
  if (const auto it = provider_options.find("cpu_arena"); it != provider_options.end()) {
    if (it->second == "off")
      so.DisableCpuMemArena();
    else if (it->second != "on")
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("--ep-option cpu_arena='{}' is not on or off", it->second));
    provider_options.erase(it);
  }
  AppendProvider(so, def, provider_options);
  try {
    if (!model.onnx_path.empty())
      session_ = Ort::Session(OrtEnvironment(), model.onnx_path.c_str(), so);
    else
      session_ =
          Ort::Session(OrtEnvironment(), model.onnx_bytes.data(), model.onnx_bytes.size(), so);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("ONNX Runtime cannot load model '{}': {}", model.info.name, OrtErrorText(e.what())));
  }
  inputs_ = Specs(session_, true);
  outputs_ = Specs(session_, false);
  for (const auto& s : inputs_) input_names_.push_back(s.name.c_str());
  for (const auto& s : outputs_) output_names_.push_back(s.name.c_str());
}

std::string OrtSession::options_json() const {
  nlohmann::json j = {{"intra_op_threads", options_.intra_op_threads},
                      {"inter_op_threads", options_.inter_op_threads},
                      {"graph_optimization_level", options_.graph_optimization_level},
                      {"provider_options", options_.provider_options}};
  return j.dump();
}

std::map<std::string, core::Tensor> OrtSession::Run(
    const std::map<std::string, core::Tensor>& inputs) {
  std::vector<Ort::Value> values = MakeValues(inputs);
  std::vector<Ort::Value> outs;
  try {
    outs = session_.Run(Ort::RunOptions{nullptr}, input_names_.data(), values.data(), values.size(),
                        output_names_.data(), output_names_.size());
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kRuntime, fmt::format("inference failed: {}", OrtErrorText(e.what())));
  }
  std::map<std::string, core::Tensor> result;
  for (size_t i = 0; i < outs.size(); ++i)
    result[outputs_[i].name] = ToTensor(outs[i], outputs_[i].name);
  return result;
}

void OrtSession::Bind(const std::map<std::string, core::Tensor>& inputs) {
  BindMoved(std::map<std::string, core::Tensor>(inputs));
}

void OrtSession::BindMoved(std::map<std::string, core::Tensor>&& inputs) {
  bound_inputs_ = std::move(inputs);  // the Ort::Values below point into these bytes
  bound_values_ = MakeValues(bound_inputs_);
  if (!output_memory_) return;
  try {
    io_binding_.emplace(session_);
    for (size_t i = 0; i < bound_values_.size(); ++i) BindInputOnDevice(i);
    for (const char* name : output_names_) io_binding_->BindOutput(name, *output_memory_);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kRuntime,
                fmt::format("binding the outputs to the provider's memory failed: {}",
                            OrtErrorText(e.what())));
  }
}

void OrtSession::BindInputOnDevice(size_t i) {
  if (io_binding_) io_binding_->BindInput(input_names_[i], bound_values_[i]);
}

void OrtSession::RunBound() {
  try {
    if (io_binding_)
      session_.Run(run_options_, *io_binding_);  // ORT waits for the provider's stream
    else
      session_.Run(run_options_, input_names_.data(), bound_values_.data(), bound_values_.size(),
                   output_names_.data(), output_names_.size());
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kRuntime, fmt::format("inference failed: {}", OrtErrorText(e.what())));
  }
}

void OrtSession::RunBoundKeepOutputs() {
  try {
    kept_outputs_ = session_.Run(run_options_, input_names_.data(), bound_values_.data(),
                                 bound_values_.size(), output_names_.data(), output_names_.size());
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kRuntime, fmt::format("inference failed: {}", OrtErrorText(e.what())));
  }
}

size_t OrtSession::InputIndex(const std::string& name) const {
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (inputs_[i].name == name) return i;
  throw Error(ErrorKind::kInvalidArgument, fmt::format("the graph has no input '{}'", name));
}

size_t OrtSession::OutputIndex(const std::string& name) const {
  for (size_t i = 0; i < outputs_.size(); ++i)
    if (outputs_[i].name == name) return i;
  throw Error(ErrorKind::kInvalidArgument, fmt::format("the graph has no output '{}'", name));
}

void OrtSession::SetBoundInput(const std::string& name, core::Tensor tensor) {
  const size_t i = InputIndex(name);
  if (tensor.dtype != inputs_[i].dtype)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("input '{}' is {}, but the graph wants {}", name,
                            core::DTypeName(tensor.dtype), core::DTypeName(inputs_[i].dtype)));
  bound_inputs_[name] = std::move(tensor);  // the value below points into these bytes
  bound_values_[i] = WrapTensor(bound_inputs_[name]);
  BindInputOnDevice(i);
}

void OrtSession::MoveOutputToInput(const std::string& output, const std::string& input) {
  const size_t o = OutputIndex(output);
  const size_t i = InputIndex(input);
  if (o >= kept_outputs_.size() || !kept_outputs_[o])
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("output '{}' is not kept from a previous run", output));
  bound_values_[i] = std::move(kept_outputs_[o]);
  bound_inputs_.erase(input);  // the bound value now owns its own memory
  BindInputOnDevice(i);
}

Session::TensorView OrtSession::BoundInputView(const std::string& name) const {
  const size_t i = InputIndex(name);
  if (i >= bound_values_.size() || !bound_values_[i])
    throw Error(ErrorKind::kInvalidArgument, fmt::format("input '{}' is not bound", name));
  auto info = bound_values_[i].GetTensorTypeAndShapeInfo();
  return {FromOrtType(info.GetElementType(), name), info.GetShape(),
          bound_values_[i].GetTensorRawData()};
}

void OrtSession::SetBoundInputView(const std::string& name, const TensorView& view) {
  const size_t i = InputIndex(name);
  if (i >= bound_values_.size())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("input '{}': bind the session's inputs first", name));
  if (view.dtype != inputs_[i].dtype)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("input '{}' is {}, but the graph wants {}", name,
                            core::DTypeName(view.dtype), core::DTypeName(inputs_[i].dtype)));
  bound_values_[i] = WrapHostMemory(view.data, view.dtype, view.shape);
  bound_inputs_.erase(name);  // the caller owns the memory
  BindInputOnDevice(i);
}

core::Tensor OrtSession::KeptOutput(const std::string& name) const {
  const size_t o = OutputIndex(name);
  if (o >= kept_outputs_.size() || !kept_outputs_[o])
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("output '{}' is not kept from a previous run", name));
  return ToTensor(kept_outputs_[o], name);
}

Session::TensorView OrtSession::KeptOutputView(const std::string& name) const {
  const size_t o = OutputIndex(name);
  if (o >= kept_outputs_.size() || !kept_outputs_[o])
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("output '{}' is not kept from a previous run", name));
  auto info = kept_outputs_[o].GetTensorTypeAndShapeInfo();
  return {FromOrtType(info.GetElementType(), name), info.GetShape(),
          kept_outputs_[o].GetTensorRawData()};
}

// Wraps host tensors without copying; checks names, types and ranks first so a
// misfit is reported in our words, not the runtime's.
std::vector<Ort::Value> OrtSession::MakeValues(const std::map<std::string, core::Tensor>& inputs) {
  std::vector<Ort::Value> values;
  for (const auto& spec : inputs_) {
    auto it = inputs.find(spec.name);
    if (it == inputs.end())
      throw Error(ErrorKind::kInvalidArgument, fmt::format("input '{}' is missing", spec.name));
    const core::Tensor& t = it->second;
    if (t.dtype != spec.dtype)
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("input '{}' is {}, but the graph wants {}", spec.name,
                              core::DTypeName(t.dtype), core::DTypeName(spec.dtype)));
    bool fits = t.shape.size() == spec.shape.size();
    for (size_t d = 0; fits && d < t.shape.size(); ++d)
      fits = spec.shape[d] < 0 || spec.shape[d] == t.shape[d];
    if (!fits)
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("input '{}' has shape {}, but the graph wants {} (-1: any size)", spec.name,
                      core::ShapeToString(t.shape), core::ShapeToString(spec.shape)));
    values.push_back(WrapTensor(const_cast<core::Tensor&>(t)));
  }
  return values;
}

}  // namespace ipfs_accel::runtime
