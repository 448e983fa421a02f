#include "ipfs_accel/harness/input_defaults.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace ipfs_accel::harness {

namespace {

struct DefaultRule {
  const char* name;  // an input name, or a prefix ending in '.'
  HfDefault value;
};

// transformers' modeling_<model>.py, what forward() does with None.
constexpr std::array<DefaultRule, 6> kHfDefaults = {{
    {"token_type_ids", HfDefault::kZeros},         // BERT, ELECTRA, ALBERT: a zeros buffer
    {"attention_mask", HfDefault::kOnes},          // every model: attend everywhere
    {"decoder_attention_mask", HfDefault::kOnes},  // T5, BART: the causal mask alone
    {"pixel_mask", HfDefault::kOnes},              // DETR: every pixel is real
    {"position_ids", HfDefault::kPositions},       // arange(past, past + seq)
    {"past_key_values.", HfDefault::kEmptyCache},  // no cache yet
}};

bool Matches(const std::string& rule, const std::string& name) {
  return rule.back() == '.' ? name.rfind(rule, 0) == 0 : name == rule;
}

std::vector<double> Positions(const core::Shape& shape, size_t count) {
  const int64_t row = shape.empty() ? 1 : std::max<int64_t>(shape.back(), 1);
  std::vector<double> v(count);
  for (size_t i = 0; i < count; ++i) v[i] = static_cast<double>(static_cast<int64_t>(i) % row);
  return v;
}

}  // namespace

const char* HfDefaultName(HfDefault d) {
  switch (d) {
    case HfDefault::kZeros:
      return "zeros";
    case HfDefault::kOnes:
      return "ones";
    case HfDefault::kPositions:
      return "positions";
    case HfDefault::kEmptyCache:
      return "empty cache";
  }
  return "?";
}

std::optional<HfDefault> HfDefaultFor(const std::string& name) {
  for (const auto& rule : kHfDefaults)
    if (Matches(rule.name, name)) return rule.value;
  return std::nullopt;
}

core::Tensor MakeHfDefault(HfDefault d, core::DType dtype, const core::Shape& shape) {
  const auto count = static_cast<size_t>(core::ElementCount(shape));
  const std::vector<double> values = d == HfDefault::kPositions ? Positions(shape, count)
                                     : d == HfDefault::kOnes    ? std::vector<double>(count, 1.0)
                                                                : std::vector<double>(count, 0.0);
  return core::Tensor::FromDoubles(dtype, shape, values);
}

}  // namespace ipfs_accel::harness
