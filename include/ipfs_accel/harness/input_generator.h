#pragma once
// Generates inputs from what a session says about its inputs (dtype, shape with
// symbolic dimensions) and what the model says they mean (token ids inside the
// vocabulary, masks of ones). Symbolic dimensions are resolved in this order:
//   1. --shape INPUT=d0,d1,... gives one input's whole shape;
//   2. --shape DIM=n gives a named symbolic dimension everywhere;
//   3. the model's batch / sequence dimension names, else axis 0 is the batch and
//      a dimension named like a sequence ("seq", "len", "token") is the sequence;
//   4. otherwise it is an error that says which --shape to give.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct ShapeRequest {
  int64_t batch_size = 1;
  int64_t seq_len = 128;
  int64_t past_len = 0;         // tokens already in a KV cache (0: prefill)
  int64_t decoder_seq_len = 0;  // encoder-decoders' decoder tokens (0: the same as seq_len)
  // Set when the user named the size: a fixed axis that disagrees is then an error
  // instead of silently running the graph's own size.
  bool batch_explicit = false;
  bool seq_len_explicit = false;
  std::map<std::string, std::vector<int64_t>> overrides = {};  // --shape NAME=dims
};

// Resolved concrete shape of every input. A sequence length that was not explicit is cut to
// the model's positions (max_sequence, max_decoder_sequence) or raised to the least it needs
// (min_sequence: an image's tokens). Throws core::Error(kInvalidArgument) for
// a shape that cannot fit the graph (wrong rank, a fixed dimension contradicted,
// a sequence longer than the model's positions, an unresolved symbolic dimension).
std::map<std::string, core::Shape> ResolveShapes(const std::vector<runtime::TensorSpec>& inputs,
                                                 const models::DimRoles& roles,
                                                 const ShapeRequest& request);

// The batch size and sequence length the resolved shapes actually have (what a
// result is stored under): batch 1 when no axis is a batch, sequence 0 when none is.
struct EffectiveDims {
  int64_t batch_size;
  int64_t seq_len;
};
EffectiveDims EffectiveBatchAndSequence(const std::vector<runtime::TensorSpec>& inputs,
                                        const models::DimRoles& roles,
                                        const std::map<std::string, core::Shape>& shapes);

// Every graph input: those the caller gave, then the rest made to fit them (symbolic batch and
// sequence dimensions take the sizes of the given inputs, a KV cache is empty, past length 0).
// An input left out takes Hugging Face's default for it (input_defaults.h) unless the model
// computes that input itself (a kComputed hint); one with no default is generated from `seed`.
// Given tensors in Hugging Face's layout where the graph's differs are made the graph's
// (InputHint::from_hf_layout), and inputs that fixed the graph's structure
// (Model::structure_inputs, e.g. image_grid_thw) are left out of the result.
// Used to run reference inputs, or the user's, that name only some graph inputs.
struct FilledInputs {
  std::map<std::string, std::string> defaulted;  // input -> HF's default ("zeros", "ones", ...)
  std::vector<std::string> generated;            // inputs with no HF default: seeded values
  uint64_t seed = 0;                             // of the generated ones
};
struct CompletedInputs {
  std::map<std::string, core::Tensor> tensors;  // every graph input
  FilledInputs filled;
};
// What was filled, for the user: up to two lines (defaulted, generated), none when nothing was.
std::vector<std::string> DescribeFilledInputs(const FilledInputs& filled);
CompletedInputs FillMissingInputs(const std::vector<runtime::TensorSpec>& inputs,
                                  const models::Model& model,
                                  std::map<std::string, core::Tensor> given, uint64_t seed);
// FillMissingInputs' tensors alone.
std::map<std::string, core::Tensor> CompleteInputs(const std::vector<runtime::TensorSpec>& inputs,
                                                   const models::Model& model,
                                                   std::map<std::string, core::Tensor> given,
                                                   uint64_t seed);

// Deterministic inputs for `seed`.
std::map<std::string, core::Tensor> GenerateInputs(
    const std::vector<runtime::TensorSpec>& inputs,
    const std::map<std::string, core::Shape>& shapes,
    const std::map<std::string, models::InputHint>& hints, uint64_t seed);

}  // namespace ipfs_accel::harness
