// The gradient of Scan: a second Scan that runs backwards over the body's own gradient.
//
// Forward, step t maps (state s[t-1], scan inputs x[t]) to (s[t], scan outputs y[t]). Backward,
// step t maps the gradient reaching s[t] and dy[t] to the gradient reaching s[t-1] and dx[t]:
// the body's vector-Jacobian product, made by differentiating the body itself (the scalar
// sum(s[t] * ds) + sum(y[t] * dy) with respect to its inputs). It needs s[t-1] at every step, so
// the forward Scan is run again with a body that also emits the state it was given.

#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gradient_graph.h"
#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"
#include "training_parts.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

const onnx::GraphProto& ScanBodyOf(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute())
    if (a.name() == "body" && a.has_g()) return a.g();
  throw Error(ErrorKind::kCorrupt, fmt::format("Scan node '{}' has no body", node.name()));
}

// Refuses what this rule does not handle: reversed directions, and a body that reads values of
// the graph around it or holds subgraphs of its own.
void CheckScanIsPlain(const onnx::NodeProto& node, const onnx::GraphProto& body) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("cannot differentiate Scan node '{}': {}", node.name(), why));
  };
  for (const char* key : {"scan_input_directions", "scan_output_directions"})
    for (int64_t d : AttrInts(node, key))
      if (d != 0) refuse("a reversed scan direction has no gradient rule yet");
  std::set<std::string> local;
  for (const auto& v : body.input()) local.insert(v.name());
  for (const auto& t : body.initializer()) local.insert(t.name());
  for (const auto& n : body.node()) local.insert(n.output().begin(), n.output().end());
  for (const auto& n : body.node()) {
    for (const auto& a : n.attribute())
      if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS)
        refuse("its body holds control flow");
    for (const auto& in : n.input())
      if (!in.empty() && !local.count(in))
        refuse(fmt::format("its body reads '{}' from the graph around it", in));
  }
}

// Every tensor and node name of `g` (a graph that reads nothing from outside) with `prefix`, so
// that it cannot shadow a name of the graph it is placed in.
void ScanPrefixNames(onnx::GraphProto& g, const std::string& prefix) {
  const auto rename = [&](std::string* name) {
    if (!name->empty()) *name = prefix + *name;
  };
  for (auto& v : *g.mutable_input()) rename(v.mutable_name());
  for (auto& v : *g.mutable_output()) rename(v.mutable_name());
  for (auto& v : *g.mutable_value_info()) rename(v.mutable_name());
  for (auto& t : *g.mutable_initializer()) rename(t.mutable_name());
  for (auto& n : *g.mutable_node()) {
    rename(n.mutable_name());
    for (auto& in : *n.mutable_input()) rename(&in);
    for (auto& out : *n.mutable_output()) rename(&out);
  }
}

// One step's slice of an outer tensor stacked along `axis`.
TensorInfo ScanPerStep(const TensorInfo& outer, int64_t axis) {
  TensorInfo step = outer;
  step.dims.erase(step.dims.begin() + NormalizeAxis(axis, outer.rank()));
  return step;
}

// What the rule knows of one Scan: its counts, axes and the per-step types of the body's
// inputs (states, then scan inputs) and outputs (states, then scan outputs).
struct ScanLayout {
  int states = 0, scan_inputs = 0, scan_outputs = 0;
  std::vector<int64_t> input_axes, output_axes;
  std::vector<TensorInfo> in_step, out_step;
};

ScanLayout ScanLayoutOf(GradCall& c) {
  const onnx::NodeProto& n = c.node;
  ScanLayout s;
  s.scan_inputs = static_cast<int>(AttrInt(n, "num_scan_inputs", 0));
  s.states = n.input_size() - s.scan_inputs;
  s.scan_outputs = n.output_size() - s.states;
  s.input_axes = AttrInts(n, "scan_input_axes");
  s.output_axes = AttrInts(n, "scan_output_axes");
  s.input_axes.resize(s.scan_inputs, 0);
  s.output_axes.resize(s.scan_outputs, 0);
  for (int i = 0; i < n.input_size(); ++i) {
    const TensorInfo& outer = c.e.Info(n.input(i), "Scan", true);
    s.in_step.push_back(i < s.states ? outer : ScanPerStep(outer, s.input_axes[i - s.states]));
  }
  for (int i = 0; i < n.output_size(); ++i) {
    const TensorInfo& outer = c.e.Info(n.output(i), "Scan", true);
    s.out_step.push_back(i < s.states ? outer : ScanPerStep(outer, s.output_axes[i - s.states]));
  }
  return s;
}

// The body's vector-Jacobian product as a Scan body: inputs (ds[t] per state, dy[t] per scan
// output, s[t-1] per state, x[t] per scan input), outputs (ds[t-1] per state, dx[t] per scan
// input); every name starts with `prefix`.
onnx::GraphProto VjpBody(const onnx::GraphProto& body, const ScanLayout& s,
                         const std::string& prefix) {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.add_opset_import()->set_version(kOpsetVersion);
  onnx::GraphProto& g = *m.mutable_graph();
  g = body;
  g.clear_input();
  g.clear_output();
  g.clear_value_info();
  GraphBuilder b(&g, nullptr);
  // Inputs in the backward Scan's order: its states (the seeds of the body's states), then its
  // scan inputs (the seeds of the scan outputs, the saved states, the forward scan inputs).
  std::vector<std::string> terms, wrt;
  for (int i = 0; i < body.output_size(); ++i) {
    const std::string seed = fmt::format("vjp/seed_{}", i);
    DeclareInput(&g, seed, s.out_step[i].elem, s.out_step[i].dims);
    const std::string product =
        b.Node("Mul", {body.output(i).name(), seed}, {}, fmt::format("vjp/product_{}", i));
    terms.push_back(
        b.Node("ReduceSum", {product}, {{"keepdims", int64_t{0}}}, fmt::format("vjp/term_{}", i)));
  }
  for (int i = 0; i < body.input_size(); ++i) {
    wrt.push_back(body.input(i).name());
    DeclareInput(&g, wrt.back(), s.in_step[i].elem, s.in_step[i].dims);
  }
  std::string loss = terms.front();
  for (size_t i = 1; i < terms.size(); ++i)
    loss = b.Node("Add", {loss, terms[i]}, {}, fmt::format("vjp/sum_{}", i));
  const std::map<std::string, std::string> grads = AddGradients(m, loss, wrt);
  for (int i = 0; i < body.input_size(); ++i) {
    const std::string out =
        b.Node("Identity", {grads.at(wrt[i])}, {}, fmt::format("vjp/grad_{}", i));
    DeclareOutput(&g, out, s.in_step[i].elem, s.in_step[i].dims);
  }
  ScanPrefixNames(g, prefix);
  return g;
}

// The body again, also emitting the state each step was given (stacked along axis 0).
onnx::GraphProto SavingBody(const onnx::GraphProto& body, const ScanLayout& s,
                            const std::string& prefix) {
  onnx::GraphProto g = body;
  GraphBuilder b(&g, nullptr);
  for (int i = 0; i < s.states; ++i) {
    const std::string saved =
        b.Node("Identity", {body.input(i).name()}, {}, fmt::format("saved_state_{}", i));
    DeclareOutput(&g, saved, s.in_step[i].elem, s.in_step[i].dims);
  }
  ScanPrefixNames(g, prefix);
  return g;
}

// A Scan node over `body` in the graph being differentiated; returns its outputs' names.
std::vector<std::string> ScanNode(GradCall& c, const std::vector<std::string>& inputs,
                                  int num_outputs, const std::vector<Attr>& attrs,
                                  onnx::GraphProto body) {
  const std::vector<std::string> outs = c.e.NodeN("Scan", inputs, num_outputs, attrs);
  auto* a = c.e.graph()->mutable_node(c.e.graph()->node_size() - 1)->add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = std::move(body);
  return outs;
}

std::vector<std::string> ScanGrad(GradCall& c) {
  const onnx::GraphProto& body = ScanBodyOf(c.node);
  CheckScanIsPlain(c.node, body);
  const ScanLayout s = ScanLayoutOf(c);
  const std::string scope = c.e.Fresh("Scan");

  // The forward again, keeping the state of every step (stacked along axis 0).
  std::vector<int64_t> axes = s.output_axes;
  axes.resize(s.scan_outputs + s.states, 0);
  const std::vector<std::string> recomputed =
      ScanNode(c, {c.node.input().begin(), c.node.input().end()}, c.node.output_size() + s.states,
               {{"num_scan_inputs", int64_t{s.scan_inputs}},
                {"scan_input_axes", s.input_axes},
                {"scan_output_axes", axes}},
               SavingBody(body, s, scope + "/saving/"));

  // Backwards: states are the gradients reaching the states; scan inputs run in reverse, along
  // the recomputed Scan's output axes, then along the forward scan inputs' own.
  std::vector<std::string> inputs;
  for (int i = 0; i < c.node.output_size(); ++i)
    inputs.push_back(c.dy[i].empty() ? c.e.Fill(c.node.output(i)) : c.dy[i]);
  for (int i = 0; i < s.states; ++i) inputs.push_back(recomputed[c.node.output_size() + i]);
  for (int i = s.states; i < c.node.input_size(); ++i) inputs.push_back(c.node.input(i));
  axes.insert(axes.end(), s.input_axes.begin(), s.input_axes.end());
  const int64_t scanned = s.scan_outputs + s.states + s.scan_inputs;
  const std::vector<std::string> grads =
      ScanNode(c, inputs, c.node.input_size(),
               {{"num_scan_inputs", scanned},
                {"scan_input_axes", axes},
                {"scan_input_directions", std::vector<int64_t>(scanned, 1)},
                {"scan_output_axes", s.input_axes},
                {"scan_output_directions", std::vector<int64_t>(s.scan_inputs, 1)}},
               VjpBody(body, s, scope + "/vjp/"));

  std::vector<std::string> out(c.node.input_size());
  for (int i = 0; i < c.node.input_size(); ++i)
    if (c.want[i]) out[i] = grads[i];
  return out;
}

}  // namespace

void AddScanRules(std::map<std::string, GradRule>& table) { table["Scan"] = ScanGrad; }

}  // namespace ipfs_accel::models
