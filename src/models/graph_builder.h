#pragma once
// A thin helper over onnx::GraphProto for the architecture builders: typed inputs
// and outputs with symbolic dimensions, initializers from core::Tensor, nodes with
// attributes, and the few composite layers every transformer repeats (Linear,
// LayerNorm). It names every tensor it creates uniquely.

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "weights.h"

namespace ipfs_accel::models {

// PyTorch's default eps of nn.LayerNorm, nn.GroupNorm and nn.BatchNorm*d, which many Hugging Face
// modules keep whatever their config says.
inline constexpr double kTorchNormEps = 1e-5;

// A dimension: a fixed size or a symbolic name ("batch", "sequence").
using Dim = std::variant<int64_t, std::string>;

struct Attr {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>, std::vector<float>, std::string> value;
};

inline constexpr int kOpsetVersion = 17;
// A graph's nodes, inputs, outputs and initializers together: about 100x the largest model we
// build (a 126-layer decoder has some 6,000 nodes), so a config of absurd layer counts is
// refused before its graph exhausts memory.
inline constexpr int64_t kMaxGraphElements =
    500000;  // LayerNormalization; ONNX 1.12 knows up to 17
inline constexpr const char* kContribDomain = "com.microsoft";
// The doc_string of an initializer made by GraphBuilder::Weight(): a trainable parameter (not a
// buffer, frozen table or constant), for training graphs (models/gradient.h).
inline constexpr const char* kParameterDoc = "parameter";

class GraphBuilder {
 public:
  // `fused`: the builder may use ONNX Runtime's contrib operators (com.microsoft) where one
  // does the work of a subgraph; without it the graph is plain ONNX that any runtime runs.
  GraphBuilder(onnx::GraphProto* graph, WeightProvider* weights, bool fused = false)
      : graph_(graph), weights_(weights), fused_(fused) {}

  bool fused() const { return fused_; }
  // Operator domains other than the default that nodes use (for the model's opset imports).
  const std::set<std::string>& domains() const { return domains_; }

  void Input(const std::string& name, onnx::TensorProto::DataType type,
             const std::vector<Dim>& dims);
  void Output(const std::string& name, onnx::TensorProto::DataType type,
              const std::vector<Dim>& dims);

  // Adds `t` as an initializer and returns its name.
  std::string Initializer(const std::string& name, const core::Tensor& t);
  // A weight from the provider (named weight_prefix() + hf_name), added as an initializer.
  // `transpose` stores a 2-D [out, in] (PyTorch Linear) weight as [in, out] for MatMul.
  std::string Weight(const std::string& hf_name, const core::Shape& shape, WeightInit init,
                     bool transpose = false);
  // A parameter HF's module has but its forward does not use in this graph (DINOv2's mask_token,
  // used only with bool_masked_pos): fetched and counted like Weight(), left out of the graph.
  void UnusedWeight(const std::string& hf_name, const core::Shape& shape, WeightInit init);
  // A saved buffer that is not a parameter (BatchNorm running statistics), added like Weight()
  // but left out of the parameter count.
  std::string Buffer(const std::string& hf_name, const core::Shape& shape, WeightInit init);
  // A parameter HF keeps frozen at values it computes at init (Marian's sinusoidal position
  // table): counted like a weight, its values `values`, never read (checkpoints often omit it).
  std::string FrozenParameter(const std::string& hf_name, const core::Tensor& values);
  // The prefix Weight() puts before every name, so one architecture's builder can be reused
  // as a tower of a composite model (CLIP's "text_model.", LLaVA's "vision_tower.").
  const std::string& weight_prefix() const { return weight_prefix_; }
  void set_weight_prefix(std::string prefix) { weight_prefix_ = std::move(prefix); }
  std::string ConstInt64(const std::vector<int64_t>& values);  // 1-D
  std::string ConstFloat(float value);                         // scalar

  // Adds a node; returns its (first) output's name.
  std::string Node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<Attr>& attrs = {}, const std::string& output_name = "");
  // A node of another operator domain, e.g. "com.microsoft" for ONNX Runtime's contrib ops.
  std::string NodeIn(const std::string& domain, const std::string& op,
                     const std::vector<std::string>& inputs, const std::vector<Attr>& attrs = {},
                     const std::string& output_name = "");
  // A node with `num_outputs` outputs (Split, TopK, ...); returns their names.
  std::vector<std::string> NodeN(const std::string& op, const std::vector<std::string>& inputs,
                                 int num_outputs, const std::vector<Attr>& attrs = {});

  // A node with `num_outputs` outputs and a graph attribute `graph_name` (Scan's, Loop's body);
  // returns the outputs' names. The body may read this graph's tensors by name (outer scope).
  std::vector<std::string> NodeWithGraph(const std::string& op,
                                         const std::vector<std::string>& inputs, int num_outputs,
                                         const std::vector<Attr>& attrs,
                                         const std::string& graph_name,
                                         const onnx::GraphProto& body);
  // A name no other tensor of this builder has, from `base`.
  std::string UniqueName(const std::string& base) { return Fresh(base); }

  // y = x W^T + b with HF's [out, in] weight `prefix.weight` and bias `prefix.bias`.
  std::string Linear(const std::string& x, const std::string& prefix, int64_t in, int64_t out,
                     bool bias = true);
  // LayerNormalization over the last axis with `prefix.weight` / `prefix.bias`.
  std::string LayerNorm(const std::string& x, const std::string& prefix, int64_t size, double eps);
  // Eval-mode BatchNorm over axis 1 with `prefix.weight` / `prefix.bias` and the running
  // statistics `prefix.running_mean` / `prefix.running_var` (buffers, not parameters).
  std::string BatchNorm(const std::string& x, const std::string& prefix, int64_t channels,
                        double eps);

 private:
  std::string Fresh(const std::string& base);
  void Grow();  // counts one more graph element; throws kUnsupported past kMaxGraphElements
  onnx::NodeProto* AddNode(const std::string& op, const std::vector<std::string>& inputs,
                           const std::vector<Attr>& attrs);
  onnx::GraphProto* graph_;
  WeightProvider* weights_;
  bool fused_ = false;
  std::set<std::string> domains_;
  int64_t counter_ = 0;
  int64_t elements_ = 0;
  std::string weight_prefix_;
};

// Adds `prefix` to the builder's weight prefix for its lifetime (nests; restores on exit).
class WeightScope {
 public:
  WeightScope(GraphBuilder& g, const std::string& prefix) : g_(g), saved_(g.weight_prefix()) {
    g_.set_weight_prefix(saved_ + prefix);
  }
  ~WeightScope() { g_.set_weight_prefix(saved_); }
  WeightScope(const WeightScope&) = delete;
  WeightScope& operator=(const WeightScope&) = delete;

 private:
  GraphBuilder& g_;
  std::string saved_;
};

// Small node shorthands many builders share.
std::string Transpose(GraphBuilder& g, const std::string& x, std::vector<int64_t> perm);
std::string ScalarInt64(GraphBuilder& g, int64_t value);  // a 0-d int64 constant
std::string SqueezeToScalar(GraphBuilder& g, const std::string& one_element);  // [1] -> []

}  // namespace ipfs_accel::models
