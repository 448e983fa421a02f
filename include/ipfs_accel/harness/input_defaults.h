#pragma once
// What Hugging Face's forward() uses for an input the caller leaves out (passes None), as data:
// one row per input name. `verify` and `run` fill an input the caller did not give with this
// default where HF has one, and generate (seeded, said so) only where it has none.
//
// From transformers' modeling code: BERT/ELECTRA/ALBERT/... token_type_ids (a zeros buffer),
// every model's attention_mask (attend to every position), position_ids (arange from the past
// length; 0 here, as the reference inputs start with an empty cache), T5/BART's
// decoder_attention_mask (causal alone), DETR's pixel_mask (every pixel), and the KV cache
// (None: nothing cached).

#include <optional>
#include <string>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::harness {

enum class HfDefault {
  kZeros,       // a tensor of zeros
  kOnes,        // a tensor of ones
  kPositions,   // 0, 1, 2, ... along the last axis, the same in every row
  kEmptyCache,  // a cache of length 0 (no values to make)
};

// "zeros", "ones", "positions", "empty cache": how the default is named to the user.
const char* HfDefaultName(HfDefault d);

// HF's default for the graph input `name`, or nullopt when HF has none (the input is required,
// e.g. input_ids, pixel_values). A rule whose name ends in '.' matches every input starting with
// it ("past_key_values." matches past_key_values.0.key).
std::optional<HfDefault> HfDefaultFor(const std::string& name);

// The default's values at `shape`, in `dtype` (the graph input's).
core::Tensor MakeHfDefault(HfDefault d, core::DType dtype, const core::Shape& shape);

}  // namespace ipfs_accel::harness
