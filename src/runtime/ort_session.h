#pragma once
// The ONNX Runtime implementation of runtime::Session. Internal: benches reach
// the native session through native() to compare our loop with a bare one.

#include <onnxruntime_cxx_api.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

// The process-wide environment: ORT allows one, and its creation is costly.
Ort::Env& OrtEnvironment();

// Provider option `outputs` (ours, never passed to ONNX Runtime): "host" (the default) or
// "device". With "device" the timed path (Bind + RunBound) binds the outputs to the execution
// provider's own memory (ONNX Runtime's IoBinding), so a run's latency leaves out copying them
// to the host; inputs are still bound from host memory. Run() and the kept outputs of
// RunBoundKeepOutputs() are host tensors either way.
class OrtSession : public Session {
 public:
  // Throws core::Error: kUnavailable, kCorrupt (model rejected), kInvalidArgument.
  OrtSession(const models::Model& model, const SessionOptions& options);

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  std::string execution_provider() const override { return provider_; }
  std::string options_json() const override;
  std::map<std::string, core::Tensor> Run(
      const std::map<std::string, core::Tensor>& inputs) override;
  void Bind(const std::map<std::string, core::Tensor>& inputs) override;
  void BindMoved(std::map<std::string, core::Tensor>&& inputs) override;
  void RunBound() override;
  void RunBoundKeepOutputs() override;
  void SetBoundInput(const std::string& name, core::Tensor tensor) override;
  void MoveOutputToInput(const std::string& output, const std::string& input) override;
  core::Tensor KeptOutput(const std::string& name) const override;
  TensorView KeptOutputView(const std::string& name) const override;
  TensorView BoundInputView(const std::string& name) const override;
  void SetBoundInputView(const std::string& name, const TensorView& view) override;

  Ort::Session& native() { return session_; }
  const std::vector<const char*>& input_names() const { return input_names_; }
  const std::vector<const char*>& output_names() const { return output_names_; }
  std::vector<Ort::Value>& bound_values() { return bound_values_; }

 private:
  std::vector<Ort::Value> MakeValues(const std::map<std::string, core::Tensor>& inputs);
  size_t InputIndex(const std::string& name) const;
  size_t OutputIndex(const std::string& name) const;
  void BindInputOnDevice(size_t i);

  SessionOptions options_;
  std::string provider_;
  Ort::Session session_{nullptr};
  Ort::RunOptions run_options_;
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<const char*> input_names_, output_names_;
  std::map<std::string, core::Tensor> bound_inputs_;
  std::vector<Ort::Value> bound_values_;
  std::vector<Ort::Value> kept_outputs_;
  std::optional<Ort::MemoryInfo> output_memory_;  // set by outputs=device
  std::optional<Ort::IoBinding> io_binding_;      // made by Bind() when output_memory_ is set
};

}  // namespace ipfs_accel::runtime
