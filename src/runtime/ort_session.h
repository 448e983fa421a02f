#pragma once
// The ONNX Runtime implementation of runtime::Session. Internal: benches reach
// the native session through native() to compare our loop with a bare one.

#include <onnxruntime_cxx_api.h>

#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

// The process-wide environment: ORT allows one, and its creation is costly.
Ort::Env& OrtEnvironment();

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
  void RunBound() override;
  void RunBoundKeepOutputs() override;
  void SetBoundInput(const std::string& name, core::Tensor tensor) override;
  void MoveOutputToInput(const std::string& output, const std::string& input) override;
  core::Tensor KeptOutput(const std::string& name) const override;
  TensorView KeptOutputView(const std::string& name) const override;

  Ort::Session& native() { return session_; }
  const std::vector<const char*>& input_names() const { return input_names_; }
  const std::vector<const char*>& output_names() const { return output_names_; }
  std::vector<Ort::Value>& bound_values() { return bound_values_; }

 private:
  std::vector<Ort::Value> MakeValues(const std::map<std::string, core::Tensor>& inputs);
  size_t InputIndex(const std::string& name) const;
  size_t OutputIndex(const std::string& name) const;

  SessionOptions options_;
  std::string provider_;
  Ort::Session session_{nullptr};
  Ort::RunOptions run_options_;
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<const char*> input_names_, output_names_;
  std::map<std::string, core::Tensor> bound_inputs_;
  std::vector<Ort::Value> bound_values_;
  std::vector<Ort::Value> kept_outputs_;
};

}  // namespace ipfs_accel::runtime
