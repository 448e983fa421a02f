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

// Inputs the caller did not give, generated to fit those it did: symbolic batch and
// sequence dimensions take the sizes of the given inputs, a KV cache is empty (past
// length 0). Used to run reference inputs that name only some graph inputs.
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
