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
  // REQUIRES: Bind() was called.
  virtual void RunBound() = 0;
};

}  // namespace ipfs_accel::runtime
