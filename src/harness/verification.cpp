#include "ipfs_accel/harness/verification.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

namespace ipfs_accel::harness {

ReferenceIo LoadReferenceIo(const std::string& path) {
  auto file = models::SafetensorsFile::Open(path);
  ReferenceIo io;
  for (const auto& [name, entry] : file->entries()) {
    if (name.rfind("input.", 0) == 0) io.inputs[name.substr(6)] = file->Read(name);
    if (name.rfind("output.", 0) == 0) io.outputs[name.substr(7)] = file->Read(name);
  }
  if (io.outputs.empty())
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("'{}' holds no output.* tensors to compare with", path));
  return io;
}

OutputComparison CompareTensors(const std::string& name, const core::Tensor& expected,
                                const core::Tensor& actual, double abs_tolerance) {
  OutputComparison c;
  c.name = name;
  c.expected_shape = expected.shape;
  c.actual_shape = actual.shape;
  c.shape_matches = expected.shape == actual.shape;
  if (!c.shape_matches) return c;
  const auto e = expected.ToDoubles();
  const auto a = actual.ToDoubles();
  bool finite = true;
  for (size_t i = 0; i < e.size(); ++i) {
    const double diff = std::fabs(a[i] - e[i]);
    if (!std::isfinite(a[i]) && a[i] != e[i]) finite = false;
    c.max_abs_error = std::max(c.max_abs_error, diff);
    c.max_rel_error = std::max(c.max_rel_error, diff / std::max(std::fabs(e[i]), 1e-6));
  }
  c.within_tolerance = finite && c.max_abs_error <= abs_tolerance;
  return c;
}

VerificationResult Verify(const models::Model& model, const runtime::SessionOptions& options,
                          const std::map<std::string, core::Tensor>& inputs,
                          const std::map<std::string, core::Tensor>& expected,
                          double abs_tolerance) {
  auto session = runtime::OpenSession(model, options);
  for (const auto& [name, tensor] : expected) {
    const auto& outs = session->outputs();
    if (std::none_of(outs.begin(), outs.end(), [&](const auto& s) { return s.name == name; }))
      throw core::Error(core::ErrorKind::kInvalidArgument,
                        fmt::format("reference output '{}' is not an output of model '{}'", name,
                                    model.info.name));
  }
  // Reference inputs may leave out what the graph adds (an empty KV cache) or what HF defaults.
  CompletedInputs completed = FillMissingInputs(session->inputs(), model, inputs, 0);
  const auto actual = session->Run(completed.tensors);
  VerificationResult r;
  r.filled_inputs = std::move(completed.filled);
  r.passed = !expected.empty();
  for (const auto& [name, tensor] : expected) {
    r.outputs.push_back(CompareTensors(name, tensor, actual.at(name), abs_tolerance));
    r.passed = r.passed && r.outputs.back().within_tolerance;
  }
  return r;
}

std::string FirstNonFinite(const core::Tensor& tensor) {
  const std::vector<double> values = tensor.ToDoubles();
  const auto bad =
      std::find_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); });
  if (bad == values.end()) return "";
  return fmt::format("{} at element {} of {}", *bad, bad - values.begin(), values.size());
}

VerificationResult CheckOutputsFinite(const models::Model& model,
                                      const runtime::SessionOptions& options, uint64_t seed) {
  auto session = runtime::OpenSession(model, options);
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, {.seq_len = 16});
  const auto actual =
      session->Run(GenerateInputs(session->inputs(), shapes, model.input_hints, seed));
  VerificationResult r;
  r.passed = !actual.empty();
  for (const auto& [name, tensor] : actual) {
    OutputComparison c{.name = name,
                       .expected_shape = tensor.shape,
                       .actual_shape = tensor.shape,
                       .shape_matches = true};
    c.within_tolerance = FirstNonFinite(tensor).empty();
    r.passed = r.passed && c.within_tolerance;
    r.outputs.push_back(std::move(c));
  }
  return r;
}

namespace {
// Fraction of positions (all but the last axis) whose argmax agrees.
double Top1Agreement(const core::Tensor& a, const core::Tensor& b) {
  const int64_t width = a.shape.empty() ? 1 : a.shape.back();
  const auto x = a.ToDoubles();
  const auto y = b.ToDoubles();
  const int64_t rows = width > 0 ? static_cast<int64_t>(x.size()) / width : 0;
  int64_t same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const auto xb = x.begin() + r * width, yb = y.begin() + r * width;
    same += std::max_element(xb, xb + width) - xb == std::max_element(yb, yb + width) - yb;
  }
  return rows > 0 ? static_cast<double>(same) / static_cast<double>(rows) : 1.0;
}
}  // namespace

AccuracyResult CompareModels(const models::Model& reference, const models::Model& candidate,
                             const runtime::SessionOptions& options, const ShapeRequest& shape,
                             uint64_t seed) {
  return CompareModels(reference, options, candidate, options, shape, seed);
}

AccuracyResult CompareModels(const models::Model& reference,
                             const runtime::SessionOptions& reference_options,
                             const models::Model& candidate,
                             const runtime::SessionOptions& candidate_options,
                             const ShapeRequest& shape, uint64_t seed) {
  auto ref = runtime::OpenOnnxRuntimeSession(reference, reference_options);
  auto cand = runtime::OpenSession(candidate, candidate_options);
  const auto shapes = ResolveShapes(ref->inputs(), reference.dim_roles, shape);
  const auto inputs = GenerateInputs(ref->inputs(), shapes, reference.input_hints, seed);
  const auto expected = ref->Run(inputs);
  const auto actual = cand->Run(inputs);
  AccuracyResult r;
  for (const auto& [name, tensor] : expected) {
    auto it = actual.find(name);
    if (it == actual.end() || it->second.shape != tensor.shape)
      throw core::Error(core::ErrorKind::kInvalidArgument,
                        fmt::format("output '{}' differs in name or shape between the reference "
                                    "and the variant of '{}'",
                                    name, reference.info.name));
    r.max_abs_error =
        std::max(r.max_abs_error, CompareTensors(name, tensor, it->second, 0).max_abs_error);
    if (name == "logits") r.top1_agreement = Top1Agreement(tensor, it->second);
  }
  return r;
}

}  // namespace ipfs_accel::harness
