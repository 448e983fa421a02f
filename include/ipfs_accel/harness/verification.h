#pragma once
// Checks a model against reference outputs: feeds the reference inputs, compares
// each reference output with what the runtime returns.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct OutputComparison {
  std::string name;
  core::Shape expected_shape, actual_shape;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |a - e| / max(|e|, 1e-6), at its worst element
  bool shape_matches = false;
  bool within_tolerance = false;
};

struct VerificationResult {
  std::vector<OutputComparison> outputs;
  bool passed = false;  // every output present, same shape, within tolerance
  // Graph inputs the reference left out: given HF's default, or, where HF has none, generated
  // (seed 0).
  FilledInputs filled_inputs;
};

// Reference tensors as the hf-tiny fixtures store them: one safetensors file with
// "input.<name>" and "output.<name>" tensors.
struct ReferenceIo {
  std::map<std::string, core::Tensor> inputs, outputs;
};
// Throws core::Error like SafetensorsFile::Open; kCorrupt when it holds no output.* tensor.
ReferenceIo LoadReferenceIo(const std::string& path);

// Compares two tensors element-wise (any numeric dtypes).
OutputComparison CompareTensors(const std::string& name, const core::Tensor& expected,
                                const core::Tensor& actual, double abs_tolerance);

// Runs `model` on `inputs` and compares against `expected` (by output name).
// Throws core::Error(kInvalidArgument) when an expected output is not a graph output.
VerificationResult Verify(const models::Model& model, const runtime::SessionOptions& options,
                          const std::map<std::string, core::Tensor>& inputs,
                          const std::map<std::string, core::Tensor>& expected,
                          double abs_tolerance);

// "" when every value of `tensor` is finite (integer tensors always are), else where the first
// NaN or infinity is: "nan at element 3 of 64".
std::string FirstNonFinite(const core::Tensor& tensor);

// A model without reference outputs (a template at its tiny size): runs it once on inputs
// generated from `seed` (batch 1, a short sequence) and checks that every output is finite.
// Each output's comparison has its shape as both shapes, errors 0, and within_tolerance when
// every value is finite. Throws core::Error like the runtime.
VerificationResult CheckOutputsFinite(const models::Model& model,
                                      const runtime::SessionOptions& options, uint64_t seed);

// How far a variant (another precision, a fused graph) is from its reference graph
// on the same generated inputs, over every output.
struct AccuracyResult {
  double max_abs_error = 0;
  // Outputs named "logits": share of positions whose argmax (top-1 token) agrees.
  std::optional<double> top1_agreement;
};

// Throws core::Error like the runtime; kInvalidArgument when the two graphs' outputs differ.
AccuracyResult CompareModels(const models::Model& reference, const models::Model& candidate,
                             const runtime::SessionOptions& options, const ShapeRequest& shape,
                             uint64_t seed);
// The same with the two on their own options: a variant on one platform against the
// reference on another (CUDA fp16 against CPU fp32).
AccuracyResult CompareModels(const models::Model& reference,
                             const runtime::SessionOptions& reference_options,
                             const models::Model& candidate,
                             const runtime::SessionOptions& candidate_options,
                             const ShapeRequest& shape, uint64_t seed);

}  // namespace ipfs_accel::harness
