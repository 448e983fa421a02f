#pragma once
// An inference session on one execution provider. Sessions are not thread-safe;
// use one per thread. Run() is for correctness (outputs copied to the host);
// Bind() + RunBound() is the timing path, as bare as the runtime's own Run().

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::runtime {

// A graph input or output as the runtime reports it. Symbolic dimensions are -1
// with their name in dim_names (empty when unnamed).
struct TensorSpec {
  std::string name;
  core::DType dtype = core::DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<std::string> dim_names;
};

struct SessionOptions {
  std::string platform = "cpu";  // see platforms.h
  std::map<std::string, std::string> provider_options;
  int intra_op_threads = 0;  // 0: the runtime's default (one per physical core)
  int inter_op_threads = 0;
  int graph_optimization_level = 99;  // 0, 1, 2, 99 as ONNX Runtime numbers them
};

class Session {
 public:
  virtual ~Session() = default;
  virtual const std::vector<TensorSpec>& inputs() const = 0;
  virtual const std::vector<TensorSpec>& outputs() const = 0;
  virtual std::string execution_provider() const = 0;  // "CPUExecutionProvider"
  // The effective options as JSON text (threads, optimisation level, provider options).
  virtual std::string options_json() const = 0;

  // Runs once; returns every output on the host. Throws core::Error(kInvalidArgument)
  // for inputs that do not fit the graph, kRuntime for failures inside the runtime.
  virtual std::map<std::string, core::Tensor> Run(
      const std::map<std::string, core::Tensor>& inputs) = 0;

  // Keeps `inputs` for RunBound(); outputs of RunBound() are discarded.
  virtual void Bind(const std::map<std::string, core::Tensor>& inputs) = 0;
  // Bind() taking the tensors over instead of copying them (gigabytes of weights and
  // optimizer state); the base class copies.
  virtual void BindMoved(std::map<std::string, core::Tensor>&& inputs) { Bind(inputs); }
  // REQUIRES: Bind() was called.
  virtual void RunBound() = 0;
  // Runs the bound inputs once and returns the latency in ms as measured where the run
  // happens (the browser page's clock for browser sessions; here, steady_clock around
  // RunBound()). REQUIRES: Bind() was called.
  virtual double RunBoundTimed();

  // Stateful loops (token-by-token decoding) keep their state in the runtime:
  // RunBoundKeepOutputs() keeps this run's outputs; MoveOutputToInput() hands one of
  // them to the next run as a bound input without copying it (present.N.key ->
  // past_key_values.N.key); SetBoundInput() replaces one bound input from the host;
  // KeptOutput() copies a kept output to the host.
  // Throws core::Error(kInvalidArgument) for names the graph does not have.
  virtual void RunBoundKeepOutputs() = 0;
  virtual void SetBoundInput(const std::string& name, core::Tensor tensor) = 0;
  virtual void MoveOutputToInput(const std::string& output, const std::string& input) = 0;
  virtual core::Tensor KeptOutput(const std::string& name) const = 0;
  // A kept output in place, without a copy; valid until the next run. Host memory only.
  struct TensorView {
    core::DType dtype;
    core::Shape shape;
    const void* data;
  };
  virtual TensorView KeptOutputView(const std::string& name) const = 0;
  // Two sessions sharing state without copies (a training step's parameters, accumulated
  // gradients): BoundInputView() is a bound input in place, valid until that input is bound
  // again; SetBoundInputView() binds host memory the caller keeps alive and unchanged while it
  // is bound. Host memory only; the base class throws core::Error(kUnsupported) (a browser
  // session's inputs live in its page).
  virtual TensorView BoundInputView(const std::string& name) const;
  virtual void SetBoundInputView(const std::string& name, const TensorView& view);

  // Resident memory now of the processes that run the model for this session outside this one
  // (a browser's; PSS, so pages they share count once); 0 when the model runs in this process.
  virtual int64_t HelperProcessesResidentBytes() const { return 0; }
};

}  // namespace ipfs_accel::runtime
