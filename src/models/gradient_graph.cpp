#include "gradient_graph.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gradient_emit.h"
#include "gradient_rules.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// Which tensors lie between wrt and loss (see the header).
struct Path {
  std::set<std::string> active;  // floating, and depending on some x of wrt
  std::set<std::string> needed;  // loss depends on it
  bool On(const std::string& t) const { return active.count(t) && needed.count(t); }
};

Path FindPath(const std::vector<onnx::NodeProto>& nodes,
              const std::map<std::string, TensorInfo>& info, const std::string& loss,
              const std::vector<std::string>& wrt) {
  Path p;
  p.active.insert(wrt.begin(), wrt.end());
  for (const auto& n : nodes) {
    bool any = false;
    for (const auto& in : n.input()) any = any || p.active.count(in);
    if (!any || IsPiecewiseConstant(n.op_type())) continue;
    for (const auto& out : n.output()) {
      // An output of unknown type (a contrib operator's) counts as floating, so its operator is
      // refused rather than silently cutting the path.
      auto it = info.find(out);
      if (it == info.end() || it->second.elem == onnx::TensorProto::UNDEFINED ||
          IsFloatType(it->second.elem))
        p.active.insert(out);
    }
  }
  p.needed.insert(loss);
  for (auto n = nodes.rbegin(); n != nodes.rend(); ++n) {
    bool any = false;
    for (const auto& out : n->output()) any = any || (p.needed.count(out) && p.active.count(out));
    if (any)
      for (const auto& in : n->input()) p.needed.insert(in);
  }
  return p;
}

void CheckNames(const std::map<std::string, TensorInfo>& info, const std::string& loss,
                const std::vector<std::string>& wrt) {
  auto it = info.find(loss);
  if (it == info.end() || !IsFloatType(it->second.elem))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("the loss '{}' is not a floating tensor of the graph", loss));
  for (const auto& x : wrt) {
    auto xi = info.find(x);
    if (xi == info.end() || !IsFloatType(xi->second.elem))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("cannot differentiate with respect to '{}': not a floating input "
                              "or initializer of the graph",
                              x));
  }
}

GradRule RuleFor(const onnx::NodeProto& n) {
  GradRule rule =
      (n.domain().empty() || n.domain() == "ai.onnx") ? FindGradRule(n.op_type()) : nullptr;
  if (rule) return rule;
  const std::string op = n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type();
  throw Error(ErrorKind::kUnsupported,
              fmt::format("cannot differentiate operator {} (node '{}'): it has no gradient rule "
                          "yet (rules exist for {}); build the plain graph, or add a rule in "
                          "models/gradient_rules",
                          op, n.name(), fmt::join(GradRuleOperators(), ", ")));
}

// Sums of gradient contributions, made once per tensor when first read.
class Accumulator {
 public:
  explicit Accumulator(GradEmitter& e) : e_(e) {}
  void Add(const std::string& tensor, const std::string& grad) { parts_[tensor].push_back(grad); }
  std::string Total(const std::string& tensor) {
    auto it = parts_.find(tensor);
    if (it == parts_.end() || it->second.empty()) return "";
    if (it->second.size() > 1) it->second = {e_.Node("Sum", it->second)};
    return it->second.front();
  }

 private:
  GradEmitter& e_;
  std::map<std::string, std::vector<std::string>> parts_;
};

void Backpropagate(GradEmitter& e, Accumulator& acc, const onnx::NodeProto& n, const Path& path) {
  GradCall call{e, n, {}, {}};
  bool any_dy = false;
  for (const auto& out : n.output()) {
    call.dy.push_back(path.On(out) ? acc.Total(out) : "");
    any_dy = any_dy || !call.dy.back().empty();
  }
  bool any_want = false;
  for (const auto& in : n.input()) {
    call.want.push_back(!in.empty() && path.On(in));
    any_want = any_want || call.want.back();
  }
  if (!any_dy || !any_want) return;
  for (const auto& a : n.attribute())  // Scan's rule differentiates its body itself
    if (n.op_type() != "Scan" &&
        (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS))
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("cannot differentiate operator {} (node '{}'): control flow with "
                              "subgraphs has no gradient rule",
                              n.op_type(), n.name()));
  const std::vector<std::string> grads = RuleFor(n)(call);
  for (int i = 0; i < n.input_size(); ++i) {
    if (!call.want[i]) continue;
    if (i >= static_cast<int>(grads.size()) || grads[i].empty())
      throw Error(ErrorKind::kInternal,
                  fmt::format("the {} gradient rule gave no gradient for input {} of node '{}'",
                              n.op_type(), i, n.name()));
    acc.Add(n.input(i), grads[i]);
  }
}

}  // namespace

std::map<std::string, std::string> AddGradients(onnx::ModelProto& model, const std::string& loss,
                                                const std::vector<std::string>& wrt,
                                                const std::string& seed) {
  std::map<std::string, TensorInfo> info = InferTensorInfo(model);
  CheckNames(info, loss, wrt);
  const std::vector<onnx::NodeProto> nodes(model.graph().node().begin(),
                                           model.graph().node().end());
  const Path path = FindPath(nodes, info, loss, wrt);
  GradEmitter e(model.mutable_graph(), std::move(info));
  Accumulator acc(e);
  acc.Add(loss, seed.empty() ? e.Fill(loss, 1.0) : seed);
  for (auto n = nodes.rbegin(); n != nodes.rend(); ++n) {
    bool on = false;
    for (const auto& out : n->output()) on = on || path.On(out);
    if (on && !IsPiecewiseConstant(n->op_type())) Backpropagate(e, acc, *n, path);
  }
  std::map<std::string, std::string> grads;
  for (const auto& x : wrt) {
    std::string g = acc.Total(x);
    grads[x] = g.empty() ? e.Fill(x, 0.0) : g;
  }
  return grads;
}

std::vector<std::string> ReachingLoss(const onnx::ModelProto& model, const std::string& loss,
                                      const std::vector<std::string>& candidates) {
  const std::map<std::string, TensorInfo> info = InferTensorInfo(model);
  const std::vector<onnx::NodeProto> nodes(model.graph().node().begin(),
                                           model.graph().node().end());
  std::vector<std::string> floating;
  for (const auto& x : candidates) {
    auto it = info.find(x);
    if (it != info.end() && IsFloatType(it->second.elem) && x != loss) floating.push_back(x);
  }
  const Path path = FindPath(nodes, info, loss, floating);
  std::vector<std::string> out;
  for (const auto& x : floating)
    if (path.On(x)) out.push_back(x);
  return out;
}

}  // namespace ipfs_accel::models
